/**
 * The Meta conversions outbox: one row per event id (so an event is queued once however often its
 * cause is retried), claimed by a short lease so concurrent senders never post the same row at once,
 * then marked sent, rescheduled, or dead with the reason.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { batchWrites } from './batch-writes.ts';
import { createSql } from './sql-client.ts';

/** A claimed row. */
export interface ConversionRow {
  id: string;
  eventId: string;
  pixelId: string;
  /** The bot that produced the event; null on rows written before conversions recorded their bot. */
  botId: string | null;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Counts by status (the demo's report, tests). */
export type ConversionCounts = Record<'pending' | 'sent' | 'dead', number>;

/** The outbox. */
export interface ConversionOutbox {
  /** Queues an event of bot `botId` (sent later with that bot's Meta credentials). */
  add(row: {
    eventId: string;
    pixelId: string;
    botId: string;
    payload: Record<string, unknown>;
  }): Promise<void>;
  /** Claims up to `limit` due rows for `leaseMs` (they are invisible to other claims meanwhile). */
  claim(now: number, limit: number, leaseMs: number): Promise<ConversionRow[]>;
  markSent(ids: string[], at: number): Promise<void>;
  reschedule(id: string, attempts: number, nextAt: number, error: string): Promise<void>;
  markDead(id: string, attempts: number, error: string): Promise<void>;
  counts(): Promise<ConversionCounts>;
}

/** Creates the outbox over the ORM's pool. */
export function createConversionOutbox(orm: MikroORM): ConversionOutbox {
  const sql = createSql(orm);
  const iso = (ms: number) => new Date(ms).toISOString();
  // Clicks arrive many at a time: their PageView rows are committed together.
  const add = batchWrites<Parameters<ConversionOutbox['add']>[0]>(async (rows) => {
    await sql(
      `insert into conversion_events (event_id, pixel_id, payload, bot_id)
       select * from unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
       on conflict (event_id) do nothing`,
      [
        rows.map((r) => r.eventId),
        rows.map((r) => r.pixelId),
        rows.map((r) => JSON.stringify(r.payload)),
        rows.map((r) => r.botId),
      ],
    );
  });
  return {
    add,
    async claim(now, limit, leaseMs) {
      const rows = await sql<{
        id: string;
        event_id: string;
        pixel_id: string;
        bot_id: string | null;
        payload: Record<string, unknown>;
        attempts: number;
      }>(
        `update conversion_events set next_attempt_at = $2
         where id in (select id from conversion_events where status = 'pending' and next_attempt_at <= $1
                      order by next_attempt_at limit $3 for update skip locked)
         returning id::text, event_id, pixel_id, bot_id, payload, attempts`,
        [iso(now), iso(now + leaseMs), limit],
      );
      return rows.map((r) => ({
        id: r.id,
        eventId: r.event_id,
        pixelId: r.pixel_id,
        botId: r.bot_id,
        payload: r.payload,
        attempts: r.attempts,
      }));
    },
    async markSent(ids, at) {
      if (ids.length === 0) return;
      await sql(
        `update conversion_events set status = 'sent', sent_at = $2, attempts = attempts + 1, last_error = null
         where id = any($1::bigint[])`,
        [ids, iso(at)],
      );
    },
    async reschedule(id, attempts, nextAt, error) {
      await sql(
        'update conversion_events set attempts = $2, next_attempt_at = $3, last_error = $4 where id = $1',
        [id, attempts, iso(nextAt), error.slice(0, 500)],
      );
    },
    async markDead(id, attempts, error) {
      await sql(
        `update conversion_events set status = 'dead', attempts = $2, last_error = $3 where id = $1`,
        [id, attempts, error.slice(0, 500)],
      );
    },
    async counts() {
      const rows = await sql<{ status: string; n: string }>(
        'select status, count(*)::text as n from conversion_events group by status',
      );
      const counts: ConversionCounts = { pending: 0, sent: 0, dead: 0 };
      for (const r of rows) if (r.status in counts) counts[r.status as keyof ConversionCounts] = Number(r.n);
      return counts;
    },
  };
}
