/**
 * The Meta conversions outbox: one row per event id (so an event is queued once however often its
 * cause is retried), claimed by a short lease so concurrent senders never post the same row at once,
 * then marked sent, rescheduled, or dead with the reason.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { batchWrites } from './batch-writes.ts';
import { createSql, queryPrepared, toStoreError } from './sql-client.ts';
import type { ConversionCounts, ConversionOutbox } from '../tracking/conversion-queue.ts';

export type { ConversionCounts, ConversionOutbox, ConversionRow } from '../tracking/conversion-queue.ts';

const ADD_SQL = `insert into conversion_events (event_id, pixel_id, payload, bot_id)
  select r->>'e', r->>'p', r->'d', r->>'b'
  from jsonb_array_elements($1::jsonb) as r, (select set_config('synchronous_commit', 'off', true)) as local
  on conflict (event_id) do nothing`;

/** Creates the outbox over the ORM's pool. */
export function createConversionOutbox(orm: MikroORM): ConversionOutbox {
  const sql = createSql(orm);
  const iso = (ms: number) => new Date(ms).toISOString();
  // Clicks arrive many at a time: their PageView rows are committed together, sent as one JSON text
  // (one JSON.stringify, where text[] parameters escaped every payload character by character), by a
  // prepared statement. Only the ad redirect adds rows here, and a row it fails to add is logged and
  // let go: so the commit does not wait for its WAL flush (synchronous_commit off for this transaction
  // only). The row is visible at once; only a Postgres crash within the WAL writer delay could lose it.
  const add = batchWrites<Parameters<ConversionOutbox['add']>[0]>(async (rows) => {
    const json = JSON.stringify(rows.map((r) => ({ e: r.eventId, p: r.pixelId, d: r.payload, b: r.botId })));
    try {
      await queryPrepared(await orm.em.getConnection().getNativeClient(), 'bf_pageviews', ADD_SQL, [json]);
    } catch (error) {
      throw toStoreError(error);
    }
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
