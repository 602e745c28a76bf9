import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchReads } from '../../src/db/batch-reads.ts';

describe('batchReads', () => {
  it('reads the keys asked for in one tick in one call, each caller getting its own value', async () => {
    const calls: string[][] = [];
    const get = batchReads<string, string>(async (keys) => {
      calls.push(keys);
      return keys.map((k) => (k === 'missing' ? null : k.toUpperCase()));
    });
    const values = await Promise.all(['a', 'missing', 'b'].map((k) => get(k)));
    assert.deepEqual(values, ['A', null, 'B']);
    assert.deepEqual(calls, [['a', 'missing', 'b']]);
  });

  it('gathers reads asked for while a batch runs into the next one, up to maxBatch keys each', async () => {
    const calls: number[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const get = batchReads<number, number>(async (keys) => {
      calls.push(keys);
      if (calls.length === 1) await gate;
      return keys.map((k) => k * 2);
    }, 2);
    const first = get(1);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [2, 3, 4].map((k) => get(k));
    release();
    assert.deepEqual(await Promise.all([first, ...rest]), [2, 4, 6, 8]);
    assert.deepEqual(calls, [[1], [2, 3], [4]]);
  });

  it('fails every read of a failed batch, and reads again afterwards', async () => {
    let fail = true;
    const get = batchReads<string, string>(async (keys) => {
      if (fail) throw new Error('down');
      return keys;
    });
    await assert.rejects(Promise.all([get('a'), get('b')]), /down/);
    fail = false;
    assert.equal(await get('c'), 'c');
  });
});
