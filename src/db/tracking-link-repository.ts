/** Tracking links: slug → bot and campaign, managed through the admin API and the CLI. */
import type { MikroORM } from '@mikro-orm/postgresql';
import { BotflowError } from '../errors.ts';
import { createSql } from './sql-client.ts';

/** A tracking link with its bot's username (what a redirect needs). */
export interface TrackingLinkRecord {
  slug: string;
  botId: string;
  botUsername: string;
  campaign: string | null;
  /** Answer with the presell page (Meta Pixel PageView) instead of a bare redirect. */
  presell: boolean;
}

/** The tracking link repository. */
export interface TrackingLinkRepository {
  /** Creates a link; CONFLICT when the slug is taken, BAD_REQUEST when the bot does not exist. */
  add(link: {
    slug: string;
    botId: string;
    campaign?: string | null;
    presell?: boolean;
  }): Promise<TrackingLinkRecord>;
  get(slug: string): Promise<TrackingLinkRecord | null>;
  list(botId?: string): Promise<TrackingLinkRecord[]>;
  remove(slug: string): Promise<boolean>;
  /** Changes a link's campaign or presell flag; null when there is no such link. */
  update(
    slug: string,
    change: { campaign?: string | null; presell?: boolean },
  ): Promise<TrackingLinkRecord | null>;
  /** Drops cached links of a bot (its username changed, or it was removed). */
  forgetBot(botId: string): void;
}

interface Row {
  slug: string;
  bot_id: string;
  username: string;
  campaign: string | null;
  presell: boolean;
}
const toRecord = (r: Row): TrackingLinkRecord => ({
  slug: r.slug,
  botId: r.bot_id,
  botUsername: r.username,
  campaign: r.campaign,
  presell: r.presell,
});
const SELECT =
  'select l.slug, l.bot_id, b.username, l.campaign, l.presell from tracking_links l join bots b on b.id = l.bot_id';

/**
 * Creates the repository over the ORM's pool. With `cacheMs`, `get` answers found links from memory
 * for that long (every ad click reads its link); a removal here forgets it at once, one in another
 * process within `cacheMs`.
 */
export function createTrackingLinkRepository(
  orm: MikroORM,
  options: { cacheMs?: number; now?: () => number } = {},
): TrackingLinkRepository {
  const sql = createSql(orm);
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; link: TrackingLinkRecord }>();
  const read = async (slug: string) => {
    const rows = await sql<Row>(`${SELECT} where l.slug = $1`, [slug]);
    return rows[0] === undefined ? null : toRecord(rows[0]);
  };
  return {
    async add(link) {
      const inserted = await sql<{ slug: string }>(
        `insert into tracking_links (slug, bot_id, campaign, presell) select $1, id, $3, $4 from bots where id = $2 returning slug`,
        [link.slug, link.botId, link.campaign ?? null, link.presell ?? false],
      );
      if (inserted.length === 0) {
        throw new BotflowError('BAD_REQUEST', `bot ${link.botId} does not exist`);
      }
      return (await read(link.slug))!;
    },
    async get(slug) {
      const cacheMs = options.cacheMs ?? 0;
      const hit = cache.get(slug);
      if (hit !== undefined && now() - hit.at < cacheMs) return hit.link;
      const link = await read(slug);
      if (link === null || cacheMs === 0) cache.delete(slug);
      else {
        if (cache.size >= 10_000) cache.clear();
        cache.set(slug, { at: now(), link });
      }
      return link;
    },
    async list(botId) {
      const rows = await sql<Row>(`${SELECT} where $1::text is null or l.bot_id = $1 order by l.slug`, [
        botId ?? null,
      ]);
      return rows.map(toRecord);
    },
    async update(slug, change) {
      const updated = await sql<{ slug: string }>(
        `update tracking_links set
           campaign = case when $2 then $3 else campaign end,
           presell = coalesce($4, presell)
         where slug = $1 returning slug`,
        [slug, change.campaign !== undefined, change.campaign ?? null, change.presell ?? null],
      );
      cache.delete(slug);
      return updated.length === 0 ? null : read(slug);
    },
    forgetBot(botId) {
      for (const [slug, hit] of cache) if (hit.link.botId === botId) cache.delete(slug);
    },
    async remove(slug) {
      cache.delete(slug);
      return (await sql('delete from tracking_links where slug = $1 returning slug', [slug])).length > 0;
    },
  };
}
