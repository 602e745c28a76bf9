/** The fencing token of each virtual shard: bumped on every reassignment, checked on every commit. */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `shard_epochs`. */
export const ShardEpoch = defineEntity({
  name: 'ShardEpoch',
  tableName: 'shard_epochs',
  properties: {
    shard: p.integer().primary().autoincrement(false),
    epoch: p.bigint('number'),
    owner: p.text(),
    claimedAt: p.datetime().defaultRaw('now()'),
  },
});
