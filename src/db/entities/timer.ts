/** A durable timer: an event delivered to a conversation at `due_at`, owned by the shard's worker. */
import { defineEntity, p } from '@mikro-orm/core';

/** Timer states: pending until it fires or is cancelled. */
export type TimerStatus = 'pending' | 'fired' | 'cancelled';

/** Table `timers`; at most one pending timer per (bot, user, timer id). */
export const Timer = defineEntity({
  name: 'Timer',
  tableName: 'timers',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    botId: p.text(),
    userId: p.bigint('string'),
    shard: p.integer(),
    timerId: p.text(),
    dueAt: p.datetime(),
    event: p.json<{ type: string }>(),
    status: p.text().$type<TimerStatus>().default('pending'),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [
    {
      name: 'timers_pending_due_at_idx',
      expression:
        'create index "timers_pending_due_at_idx" on "timers" ("due_at") where status = \'pending\'',
    },
  ],
  uniques: [
    {
      name: 'timers_pending_unique',
      expression:
        'create unique index "timers_pending_unique" on "timers" ("bot_id", "user_id", "timer_id") where status = \'pending\'',
    },
  ],
});
