/** The effects outbox: effects committed with the snapshot that produced them, run at least once. */
import { defineEntity, p } from '@mikro-orm/core';

/** Outbox row states. */
export type OutboxStatus = 'pending' | 'done' | 'failed';

/** Table `effects`; `idempotency_key` makes a re-committed effect a no-op. */
export const Effect = defineEntity({
  name: 'Effect',
  tableName: 'effects',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    botId: p.text(),
    userId: p.bigint('string'),
    idempotencyKey: p.text().unique(),
    effect: p.json<unknown>(),
    /** The flow version of the conversation when committed (buttons encode it). */
    flowVersion: p.integer().default(0),
    status: p.text().$type<OutboxStatus>().default('pending'),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime().defaultRaw('now()'),
    lastError: p.text().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [
    {
      name: 'effects_pending_next_attempt_idx',
      expression:
        'create index "effects_pending_next_attempt_idx" on "effects" ("next_attempt_at") where status = \'pending\'',
    },
  ],
});
