/**
 * The console's overview numbers for the last N days, read straight from the system of record: clicks
 * (PageView events of the tracking links), starts (buyers first seen), charges, paid orders, revenue,
 * Purchases and how many came from tracked clicks, Meta events sent / dead, and a daily series (UTC).
 */
import type { createSql } from './sql-client.ts';

/** One UTC day of the series. */
export interface OverviewDay {
  day: string;
  clicks: number;
  starts: number;
  paid: number;
  revenue_cents: number;
}

/** The overview (see README: Admin API). */
export interface Overview {
  days: number;
  since: string;
  bot_id: string | null;
  clicks: number;
  starts: number;
  charges: number;
  paid: number;
  revenue_cents: number;
  /** Paid orders over starts, rounded to 4 places (null without starts). */
  conversion_rate: number | null;
  purchases: number;
  purchases_from_tracked_clicks: number;
  /** Purchases from tracked clicks over Purchases, rounded to 4 places (null without Purchases). */
  tracked_purchase_share: number | null;
  meta_events_sent: number;
  meta_events_pending: number;
  meta_events_dead: number;
  series: OverviewDay[];
}

const TRACKED = `('user_binding', 'chat_index', 'fbclid_index')`;
const TOTALS_SQL = `select
  (select count(*)::int from conversion_events where payload->>'event_name' = 'PageView'
     and created_at >= $1 and ($2::text is null or bot_id = $2)) as clicks,
  (select count(*)::int from bot_users where first_seen >= $1 and ($2::text is null or bot_id = $2)) as starts,
  (select count(*)::int from payments where gateway_charge_id is not null and created_at >= $1
     and ($2::text is null or bot_id = $2)) as charges,
  (select count(*)::int from payments where status = 'paid' and paid_at >= $1
     and ($2::text is null or bot_id = $2)) as paid,
  (select coalesce(sum(amount_cents), 0)::bigint from payments where status = 'paid' and paid_at >= $1
     and ($2::text is null or bot_id = $2)) as revenue_cents,
  (select count(*)::int from conversion_events where payload->>'event_name' = 'Purchase'
     and created_at >= $1 and ($2::text is null or bot_id = $2)) as purchases,
  (select count(*)::int from conversion_events e join payments p
     on p.order_id = e.payload->'custom_data'->>'order_id'
     where e.payload->>'event_name' = 'Purchase' and e.created_at >= $1
     and ($2::text is null or e.bot_id = $2) and p.tracking->>'source' in ${TRACKED}) as tracked,
  (select count(*) filter (where status = 'sent')::int from conversion_events
     where created_at >= $1 and ($2::text is null or bot_id = $2)) as sent,
  (select count(*) filter (where status = 'pending')::int from conversion_events
     where created_at >= $1 and ($2::text is null or bot_id = $2)) as pending,
  (select count(*) filter (where status = 'dead')::int from conversion_events
     where created_at >= $1 and ($2::text is null or bot_id = $2)) as dead`;

const SERIES_SQL = `with days as (
  select generate_series(date_trunc('day', $1::timestamptz at time zone 'UTC'),
    date_trunc('day', $3::timestamptz at time zone 'UTC'), interval '1 day')::date as day)
select to_char(d.day, 'YYYY-MM-DD') as day,
  (select count(*)::int from conversion_events where payload->>'event_name' = 'PageView'
     and (created_at at time zone 'UTC')::date = d.day and ($2::text is null or bot_id = $2)) as clicks,
  (select count(*)::int from bot_users where (first_seen at time zone 'UTC')::date = d.day
     and ($2::text is null or bot_id = $2)) as starts,
  (select count(*)::int from payments where status = 'paid' and (paid_at at time zone 'UTC')::date = d.day
     and ($2::text is null or bot_id = $2)) as paid,
  (select coalesce(sum(amount_cents), 0)::bigint from payments where status = 'paid'
     and (paid_at at time zone 'UTC')::date = d.day and ($2::text is null or bot_id = $2)) as revenue_cents
from days d order by d.day`;

const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);

/** Reads the overview of the `days` days up to `now` (ms), for `botId` or every bot. */
export async function readOverview(
  sql: ReturnType<typeof createSql>,
  query: { days: number; now: number; botId?: string },
): Promise<Overview> {
  const since = new Date(query.now - query.days * 86_400_000);
  const botId = query.botId ?? null;
  const [t] = await sql<Record<string, string | number>>(TOTALS_SQL, [since, botId]);
  const series = await sql<Record<string, string | number>>(SERIES_SQL, [since, botId, new Date(query.now)]);
  const n = (v: string | number | undefined) => Number(v ?? 0);
  const starts = n(t?.['starts']);
  const paid = n(t?.['paid']);
  const purchases = n(t?.['purchases']);
  const tracked = n(t?.['tracked']);
  return {
    days: query.days,
    since: since.toISOString(),
    bot_id: botId,
    clicks: n(t?.['clicks']),
    starts,
    charges: n(t?.['charges']),
    paid,
    revenue_cents: n(t?.['revenue_cents']),
    conversion_rate: ratio(paid, starts),
    purchases,
    purchases_from_tracked_clicks: tracked,
    tracked_purchase_share: ratio(tracked, purchases),
    meta_events_sent: n(t?.['sent']),
    meta_events_pending: n(t?.['pending']),
    meta_events_dead: n(t?.['dead']),
    series: series.map((r) => ({
      day: String(r['day']),
      clicks: n(r['clicks']),
      starts: n(r['starts']),
      paid: n(r['paid']),
      revenue_cents: n(r['revenue_cents']),
    })),
  };
}
