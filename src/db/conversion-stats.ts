/**
 * The operator's view of Meta match quality: per event name, how many conversion events were sent,
 * are pending or died, and the share of sent events whose `user_data` carried each match key (fbc,
 * fbp, IP + user agent, em, ph, external_id). Read straight from the outbox, for one bot or all.
 */
import type { createSql } from './sql-client.ts';

/** The match keys counted on sent events. */
const MATCH_KEYS = ['fbc', 'fbp', 'ip_ua', 'em', 'ph', 'external_id'] as const;
export type MatchKey = (typeof MATCH_KEYS)[number];

/** One event name's numbers. `share_sent_with` is null when nothing was sent yet. */
export interface ConversionStat {
  event_name: string;
  sent: number;
  pending: number;
  dead: number;
  /** Sent events carrying each key. */
  sent_with: Record<MatchKey, number>;
  /** `sent_with` over `sent`, rounded to 4 places. */
  share_sent_with: Record<MatchKey, number> | null;
}

const has = (key: string) =>
  `count(*) filter (where status = 'sent' and payload->'user_data' ? '${key}')::int`;
const STATS_SQL = `select coalesce(payload->>'event_name', '?') as event_name,
  count(*) filter (where status = 'sent')::int as sent,
  count(*) filter (where status = 'pending')::int as pending,
  count(*) filter (where status = 'dead')::int as dead,
  ${has('fbc')} as fbc, ${has('fbp')} as fbp,
  count(*) filter (where status = 'sent' and payload->'user_data' ? 'client_ip_address'
    and payload->'user_data' ? 'client_user_agent')::int as ip_ua,
  ${has('em')} as em, ${has('ph')} as ph, ${has('external_id')} as external_id
from conversion_events where ($1::text is null or bot_id = $1)
group by 1 order by 1`;

type Row = { event_name: string; sent: number; pending: number; dead: number } & Record<MatchKey, number>;

/** Reads the numbers, per event name, of `botId`'s events (all bots' when undefined). */
export async function readConversionStats(
  sql: ReturnType<typeof createSql>,
  botId?: string,
): Promise<ConversionStat[]> {
  const rows = await sql<Row>(STATS_SQL, [botId ?? null]);
  return rows.map((r) => {
    const sentWith = Object.fromEntries(MATCH_KEYS.map((k) => [k, Number(r[k])])) as Record<MatchKey, number>;
    const sent = Number(r.sent);
    return {
      event_name: r.event_name,
      sent,
      pending: Number(r.pending),
      dead: Number(r.dead),
      sent_with: sentWith,
      share_sent_with:
        sent === 0
          ? null
          : (Object.fromEntries(
              MATCH_KEYS.map((k) => [k, Math.round((sentWith[k] / sent) * 10_000) / 10_000]),
            ) as Record<MatchKey, number>),
    };
  });
}
