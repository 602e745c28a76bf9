/**
 * The console's campaigns: per tracking link (clicks from its PageView events, starts of buyers it
 * brought, their paid orders and revenue) and per UTM campaign of the click (starts, paid, revenue;
 * clicks are kept only per link, so they are null there). Since `since`, for one bot or all.
 */
import type { createSql } from './sql-client.ts';

/** One tracking link's numbers. */
export interface LinkCampaign {
  slug: string;
  bot_id: string;
  campaign: string | null;
  clicks: number;
  starts: number;
  paid: number;
  revenue_cents: number;
}

/** One UTM campaign's numbers. */
export interface UtmCampaign {
  utm_campaign: string | null;
  clicks: null;
  starts: number;
  paid: number;
  revenue_cents: number;
}

const LINKS_SQL = `select l.slug, l.bot_id, l.campaign,
  (select count(*)::int from conversion_events e where e.bot_id = l.bot_id
     and e.payload->>'event_name' = 'PageView' and e.created_at >= $1
     and e.payload->>'event_source_url' like '%/r/' || l.slug) as clicks,
  (select count(*)::int from bot_users u where u.bot_id = l.bot_id
     and u.tracking_payload->>'slug' = l.slug and u.first_seen >= $1) as starts,
  (select count(*)::int from payments p join bot_users u on u.bot_id = p.bot_id and u.user_id = p.user_id
     where p.bot_id = l.bot_id and u.tracking_payload->>'slug' = l.slug and p.status = 'paid'
     and p.paid_at >= $1) as paid,
  (select coalesce(sum(p.amount_cents), 0)::bigint from payments p join bot_users u
     on u.bot_id = p.bot_id and u.user_id = p.user_id
     where p.bot_id = l.bot_id and u.tracking_payload->>'slug' = l.slug and p.status = 'paid'
     and p.paid_at >= $1) as revenue_cents
from tracking_links l where ($2::text is null or l.bot_id = $2) order by l.slug`;

const UTM_SQL = `select u.tracking_payload->'utm'->>'campaign' as utm_campaign,
  count(distinct u.user_id) filter (where u.first_seen >= $1)::int as starts,
  count(p.id) filter (where p.status = 'paid' and p.paid_at >= $1)::int as paid,
  coalesce(sum(p.amount_cents) filter (where p.status = 'paid' and p.paid_at >= $1), 0)::bigint as revenue_cents
from bot_users u left join payments p on p.bot_id = u.bot_id and p.user_id = u.user_id
where u.tracking_payload is not null and ($2::text is null or u.bot_id = $2)
group by 1 order by 1 nulls last`;

/** Reads the campaigns since `since`, for `botId` or every bot. */
export async function readCampaigns(
  sql: ReturnType<typeof createSql>,
  query: { since: Date; botId?: string },
): Promise<{ links: LinkCampaign[]; utm_campaigns: UtmCampaign[] }> {
  const params = [query.since, query.botId ?? null];
  const links = await sql<Record<string, string | number | null>>(LINKS_SQL, params);
  const utm = await sql<Record<string, string | number | null>>(UTM_SQL, params);
  return {
    links: links.map((r) => ({
      slug: String(r['slug']),
      bot_id: String(r['bot_id']),
      campaign: r['campaign'] === null ? null : String(r['campaign']),
      clicks: Number(r['clicks']),
      starts: Number(r['starts']),
      paid: Number(r['paid']),
      revenue_cents: Number(r['revenue_cents']),
    })),
    utm_campaigns: utm.map((r) => ({
      utm_campaign: r['utm_campaign'] === null ? null : String(r['utm_campaign']),
      clicks: null,
      starts: Number(r['starts']),
      paid: Number(r['paid']),
      revenue_cents: Number(r['revenue_cents']),
    })),
  };
}
