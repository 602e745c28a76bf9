import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGroupCommitter } from '../../src/runtime/group-commit.ts';

describe('group commit', () => {
  it('batches rows that arrive while a commit is in flight, answering each with its own outcome', async () => {
    const batches: number[][] = [];
    const committer = createGroupCommitter<number, string>(
      async (rows) => {
        batches.push(rows);
        await new Promise((r) => setTimeout(r, 5));
        return rows.map((r) => `ok:${r}`);
      },
      { maxBatch: 64 },
    );
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => committer.commit(i)));
    assert.deepEqual(
      outcomes,
      Array.from({ length: 100 }, (_, i) => `ok:${i}`),
    );
    assert.deepEqual(
      batches.flat(),
      Array.from({ length: 100 }, (_, i) => i),
      'every row once, in order',
    );
    assert.ok(batches.length < 100, `rows were grouped (${batches.length} batches)`);
    assert.ok(batches.every((b) => b.length <= 64));
  });

  it('a failed batch rejects its rows and the next batch still commits', async () => {
    let calls = 0;
    const committer = createGroupCommitter<number, string>(
      async (rows) => {
        calls += 1;
        if (calls === 1) throw new Error('db down');
        return rows.map(() => 'ok');
      },
      { maxBatch: 10 },
    );
    await assert.rejects(committer.commit(1), /db down/);
    assert.equal(await committer.commit(2), 'ok');
  });

  it('a store that answers the wrong number of outcomes fails the batch instead of misattributing', async () => {
    const committer = createGroupCommitter<number, string>(async () => ['only one'], { maxBatch: 10 });
    const results = await Promise.allSettled([committer.commit(1), committer.commit(2)]);
    assert.ok(results.every((r) => r.status === 'rejected'));
  });
});
