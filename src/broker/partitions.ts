/**
 * Broker partitions (pure): the 1024 virtual shards are carried by P durable queues, queue
 * `botflow.shard.<p>` holding the shards with `shard % P === p`. One queue per shard would be 1024
 * Raft groups on the broker; P (default 64) keeps the broker light while still spreading the shards
 * over many owners. Every host must use the same P.
 */
import { SHARD_COUNT } from '../runtime/shard.ts';

/** The default number of partition queues. */
export const DEFAULT_PARTITIONS = 64;

/** The partition (0..count-1) carrying a shard. */
export function partitionOfShard(shard: number, count: number): number {
  return shard % count;
}

/** The shards carried by the given partitions, ascending. */
export function shardsOfPartitions(partitions: Iterable<number>, count: number): number[] {
  const wanted = new Set(partitions);
  return Array.from({ length: SHARD_COUNT }, (_, shard) => shard).filter((shard) =>
    wanted.has(partitionOfShard(shard, count)),
  );
}

/** The name of a partition's queue. */
export function queueOfPartition(partition: number): string {
  return `botflow.shard.${partition}`;
}
