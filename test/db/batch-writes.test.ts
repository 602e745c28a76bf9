import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchWrites } from '../../src/db/batch-writes.ts';

describe('batchWrites', () => {
  it('writes the first item at once and the ones arriving meanwhile together, resolving each after its write', async () => {
    const flushes: number[][] = [];
    let release: () => void = () => {};
    const write = batchWrites<number>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await new Promise<void>((r) => (release = r));
    });
    const done: number[] = [];
    const all = [1, 2, 3, 4].map((n) => write(n).then(() => done.push(n)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(flushes, [[1]], 'the first write does not wait for company');
    assert.deepEqual(done, [], 'nothing resolves before its write');
    release();
    await Promise.all(all);
    assert.deepEqual(flushes, [[1], [2, 3, 4]]);
    assert.deepEqual(done, [1, 2, 3, 4]);
  });

  it('rejects every item of a failed batch, and later batches still run', async () => {
    let fail = true;
    const write = batchWrites<string>(async () => {
      if (fail) throw new Error('down');
    });
    await assert.rejects(write('a'), /down/);
    fail = false;
    await write('b');
  });

  it('splits a long queue into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const write = batchWrites<number>(async (items) => void sizes.push(items.length), 3);
    await Promise.all(Array.from({ length: 8 }, (_, i) => write(i)));
    assert.ok(sizes.every((s) => s <= 3));
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      8,
    );
  });

  it('with a linger, holds the first write to gather the ones arriving within it', async () => {
    const flushes: number[][] = [];
    const write = batchWrites<number>(async (items) => void flushes.push(items), 500, 30);
    const first = write(1);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(flushes, [], 'still lingering');
    const second = write(2);
    await Promise.all([first, second]);
    assert.deepEqual(flushes, [[1, 2]]);
  });
});
