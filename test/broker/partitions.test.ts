import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_PARTITIONS,
  partitionOfShard,
  queueOfPartition,
  shardsOfPartitions,
} from '../../src/broker/partitions.ts';
import { SHARD_COUNT } from '../../src/runtime/shard.ts';

describe('broker partitions', () => {
  it('the default partitions carry the 1024 shards in equal parts, each shard once', () => {
    const carried = Array.from({ length: DEFAULT_PARTITIONS }, (_, p) =>
      shardsOfPartitions([p], DEFAULT_PARTITIONS),
    );
    assert.ok(carried.every((shards) => shards.length === SHARD_COUNT / DEFAULT_PARTITIONS));
    assert.deepEqual(
      carried.flat().sort((a, b) => a - b),
      Array.from({ length: SHARD_COUNT }, (_, s) => s),
    );
  });

  it('a shard is carried by the partition its number names modulo P', () => {
    assert.equal(partitionOfShard(0, 64), 0);
    assert.equal(partitionOfShard(65, 64), 1);
    assert.equal(partitionOfShard(1023, 7), 1023 % 7);
    for (const shard of shardsOfPartitions([3, 5], 8)) assert.ok([3, 5].includes(partitionOfShard(shard, 8)));
    assert.deepEqual(shardsOfPartitions([], 8), []);
  });

  it('names each partition queue', () => {
    assert.equal(queueOfPartition(17), 'botflow.shard.17');
  });
});
