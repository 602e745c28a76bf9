import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPartitionOwnership } from '../../src/broker/partition-ownership.ts';
import { shardsOfPartitions } from '../../src/broker/partitions.ts';

/** A recording stand-in for the worker's shard ownership (this unit is bookkeeping only). */
function recorder(options: { failNext?: boolean; delayMs?: number } = {}) {
  const calls: number[][] = [];
  let fail = options.failNext ?? false;
  return {
    calls,
    async setOwnedShards(shards: readonly number[]) {
      calls.push([...shards]);
      await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
      if (fail) {
        fail = false;
        throw new Error('store down');
      }
    },
  };
}

describe('partition ownership', () => {
  it('claims a partition once, on its first take, and its shards only', async () => {
    const store = recorder();
    const ownership = createPartitionOwnership({ count: 8, setOwnedShards: store.setOwnedShards });
    await ownership.take(3);
    await ownership.take(3);
    assert.deepEqual(store.calls, [shardsOfPartitions([3], 8)]);
    assert.deepEqual(ownership.held(), [3]);
  });

  it('takes waiting together are claimed in one go, after the one running', async () => {
    const store = recorder({ delayMs: 30 });
    const ownership = createPartitionOwnership({ count: 8, setOwnedShards: store.setOwnedShards });
    const first = ownership.take(0);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(store.calls.length, 1, 'the first claim is running');
    const rest = [1, 2, 3].map((p) => ownership.take(p));
    await Promise.all([first, ...rest]);
    assert.deepEqual(store.calls, [shardsOfPartitions([0], 8), shardsOfPartitions([0, 1, 2, 3], 8)]);
  });

  it('drops apply in order after the claims, and a dropped partition is claimed again on its next take', async () => {
    const store = recorder();
    const ownership = createPartitionOwnership({ count: 4, setOwnedShards: store.setOwnedShards });
    await ownership.take(1);
    await ownership.take(2);
    await ownership.drop(1);
    assert.deepEqual(ownership.held(), [2]);
    assert.deepEqual(store.calls.at(-1), shardsOfPartitions([2], 4));
    await ownership.take(1);
    assert.deepEqual(
      store.calls.at(-1),
      shardsOfPartitions([2, 1], 4).sort((a, b) => a - b),
    );
    await ownership.dropAll();
    assert.deepEqual(store.calls.at(-1), []);
    assert.deepEqual(ownership.held(), []);
  });

  it('reports each applied change: the partitions taken and those let go', async () => {
    const store = recorder();
    const changes: Array<{ taken: number[]; dropped: number[] }> = [];
    const ownership = createPartitionOwnership({
      count: 4,
      setOwnedShards: store.setOwnedShards,
      onChange: (change) => changes.push(change),
    });
    await Promise.all([ownership.take(1), ownership.take(3)]);
    await ownership.take(1);
    await ownership.drop(3);
    await ownership.dropAll();
    assert.deepEqual(changes, [
      { taken: [1, 3], dropped: [] },
      { taken: [], dropped: [3] },
      { taken: [], dropped: [1] },
    ]);
  });

  it('a failed claim rejects its takers and is retried by the next take', async () => {
    const store = recorder({ failNext: true });
    const ownership = createPartitionOwnership({ count: 4, setOwnedShards: store.setOwnedShards });
    await assert.rejects(ownership.take(0), /store down/);
    assert.deepEqual(ownership.held(), []);
    await ownership.take(0);
    assert.deepEqual(ownership.held(), [0]);
    assert.equal(store.calls.length, 2);
  });
});
