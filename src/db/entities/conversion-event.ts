/** The Meta Conversions API outbox; `event_id` is Meta's dedup key and ours. */
import { defineEntity, p } from '@mikro-orm/core';
import type { OutboxStatus } from './effect.ts';

/** Table `conversion_events`. */
export const ConversionEvent = defineEntity({
  name: 'ConversionEvent',
  tableName: 'conversion_events',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    eventId: p.text().unique(),
    pixelId: p.text(),
    /** The bot that produced the event (its Meta token sends it); null on rows from before 0007. */
    botId: p.text().nullable(),
    payload: p.json<Record<string, unknown>>(),
    status: p.text().$type<OutboxStatus>().default('pending'),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime().defaultRaw('now()'),
    lastError: p.text().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
    sentAt: p.datetime().nullable(),
  },
  indexes: [
    {
      name: 'conversion_events_pending_next_attempt_idx',
      expression:
        'create index "conversion_events_pending_next_attempt_idx" on "conversion_events" ("next_attempt_at") where status = \'pending\'',
    },
  ],
});
