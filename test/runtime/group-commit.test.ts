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
  it(
    'with a linger, a batch after a busy one waits for more rows; a row on an idle committer waits for none',
    {
      timeout: 5000,
    },
    async () => {
      const batches: number[][] = [];
      let release: () => void = () => {};
      const committer = createGroupCommitter<number, string>(
        async (rows) => {
          batches.push(rows);
          if (rows[0] === 1) await new Promise<void>((r) => (release = r));
          return rows.map((r) => `ok:${r}`);
        },
        // A linger longer than the test's timeout: only enough rows can end it.
        { maxBatch: 64, linger: { ms: 60_000, rows: 5 } },
      );
      const first = committer.commit(1);
      await new Promise((r) => setImmediate(r));
      const busy = [2, 3, 4].map((i) => committer.commit(i));
      release();
      await first;
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(batches, [[1]], 'three rows wait for more');
      const more = [5, 6].map((i) => committer.commit(i));
      assert.deepEqual(await Promise.all([...busy, ...more]), ['ok:2', 'ok:3', 'ok:4', 'ok:5', 'ok:6']);
      assert.deepEqual(batches, [[1], [2, 3, 4, 5, 6]]);
      // Idle again: a lone row commits at once.
      assert.equal(await committer.commit(7), 'ok:7');
      assert.deepEqual(batches.at(-1), [7]);
    },
  );
});
