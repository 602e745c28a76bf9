import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConversationStore } from '../../src/db/conversation-store.ts';
import { BotflowError } from '../../src/errors.ts';
import { shardOf } from '../../src/runtime/shard.ts';
import { createShardOwnership } from '../../src/runtime/shard-ownership.ts';
import { useMigratedDatabase } from '../db/fresh-database.ts';

describe('shard ownership over real Postgres epochs', () => {
  const database = useMigratedDatabase();

  /** An ownership for worker `owner`, recording what it dropped and took. */
  function ownershipOf(owner: string) {
    const store = createConversationStore(database.db.orm);
    const dropped: number[] = [];
    const taken: number[][] = [];
    const shards = createShardOwnership({
      claim: (wanted) => store.claimShards(wanted, owner),
      onDropped: (shard) => dropped.push(shard),
      onTaken: async (fresh) => {
        taken.push([...fresh]);
      },
    });
    return { shards, dropped, taken };
  }

  it('claims wanted shards at a new epoch, takes only the fresh ones, and drops the rest', async () => {
    const a = ownershipOf('worker-a');
    assert.throws(
      () => a.shards.epochOf(1),
      (e) => e instanceof BotflowError && e.code === 'STALE_OWNER',
    );
    await a.shards.set([1, 2, 3]);
    assert.deepEqual(a.shards.owned().sort(), [1, 2, 3]);
    assert.equal(a.shards.epochOf(2), 1);
    await a.shards.set([2, 3, 4]);
    assert.deepEqual(a.dropped, [1]);
    assert.deepEqual(a.taken, [[1, 2, 3], [4]]);
    assert.equal(a.shards.owns(1), false);
    assert.throws(
      () => a.shards.epochOf(1),
      (e) => e instanceof BotflowError && e.code === 'STALE_OWNER',
    );
    await a.shards.set([2, 3, 4]);
    assert.equal(a.taken.length, 2, 'nothing fresh: nothing taken');
  });

  it('a second worker claiming a shard gets the next epoch (fencing the first out in the store)', async () => {
    const b = ownershipOf('worker-b');
    await b.shards.set([2, 9]);
    assert.equal(b.shards.epochOf(2), 2);
    assert.equal(b.shards.epochOf(9), 1);
  });

  it('claims owned shards again at a new epoch, leaving their actors and the shards it does not own alone', async () => {
    const d = ownershipOf('worker-d');
    await d.shards.set([20, 21]);
    const before = d.shards.epochOf(20);
    await d.shards.reclaim([20, 22]);
    assert.equal(d.shards.epochOf(20), before + 1);
    assert.equal(d.shards.epochOf(21), 1, 'not asked for: unchanged');
    assert.equal(d.shards.owns(22), false, 'not owned here: not claimed');
    assert.deepEqual(d.dropped, [], 'no actor leaves memory');
    assert.deepEqual(d.taken, [[20, 21], [20]]);
  });

  it('answers for a conversation by its shard', async () => {
    const c = ownershipOf('worker-c');
    await c.shards.set([shardOf('bot1', '42')]);
    assert.equal(c.shards.ownsConversation('bot1', '42'), true);
    const other = ['43', '44', '45', '46'].find((u) => shardOf('bot1', u) !== shardOf('bot1', '42'))!;
    assert.equal(c.shards.ownsConversation('bot1', other), false);
  });
});
