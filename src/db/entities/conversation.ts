/** One conversation's persisted XState snapshot; `row_version` guards every write (optimistic). */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `conversations`, keyed by (bot_id, user_id); written by the hot path in raw SQL. */
export const Conversation = defineEntity({
  name: 'Conversation',
  tableName: 'conversations',
  properties: {
    botId: p.text().primary(),
    userId: p.bigint('string').primary(),
    flowId: p.text(),
    flowVersion: p.integer(),
    xstateVersion: p.text(),
    snapshot: p.json<unknown>(),
    rowVersion: p.integer(),
    shard: p.integer().index(),
    updatedAt: p.datetime().defaultRaw('now()'),
  },
});
