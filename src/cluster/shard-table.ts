/**
 * Which worker slot owns each of the 1024 shards (pure). Slot s normally owns the shards with
 * `shard % slots === s`; while a slot is down its shards go round-robin to the live slots, and they
 * return when it is back. Every change bumps the table version.
 */
import { SHARD_COUNT } from '../runtime/shard.ts';

/** The table as broadcast to workers: `owners[shard]` is a slot index. */
export interface ShardTable {
  version: number;
  owners: number[];
}

/** The home assignment for `slots` workers. */
export function createShardTable(slots: number): ShardTable {
  return { version: 1, owners: Array.from({ length: SHARD_COUNT }, (_, shard) => shard % slots) };
}

/** Reassigns shards for the set of live slots: home slot when live, else the live slots in turn. */
export function assignShards(table: ShardTable, slots: number, live: ReadonlySet<number>): ShardTable {
  const alive = [...live].sort((a, b) => a - b);
  let turn = 0;
  const owners = Array.from({ length: SHARD_COUNT }, (_, shard) => {
    const home = shard % slots;
    if (live.has(home) || alive.length === 0) return home;
    return alive[turn++ % alive.length]!;
  });
  const changed = owners.some((o, i) => o !== table.owners[i]);
  return changed ? { version: table.version + 1, owners } : table;
}

/** The shards a slot owns in a table. */
export function shardsOf(table: ShardTable, slot: number): number[] {
  return table.owners.flatMap((owner, shard) => (owner === slot ? [shard] : []));
}
