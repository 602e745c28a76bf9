/**
 * Bots: their Telegram username, token and webhook secret. Tokens are read only by the Telegram edge;
 * listings never include them. Every secret is sealed by the secret box (encrypted when
 * BOTFLOW_SECRET_KEY is set) on the way in and opened on the way out.
 */
import type { PixelSettings } from '../tracking/pixel-settings.ts';
import type { GatewaySettings } from '../payments/gateway-settings.ts';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createSecretBox, type SecretBox } from './secret-box.ts';
import { createSql } from './sql-client.ts';

export type { PixelSettings } from '../tracking/pixel-settings.ts';
export type { GatewaySettings } from '../payments/gateway-settings.ts';

/** A bot as listed (no secrets). */
export interface BotRecord {
  id: string;
  username: string;
  /** Paid orders get join-request links (true) or `member_limit: 1` links (false). */
  joinRequests: boolean;
  createdAt: string;
}

/** What the edges need to act for a bot: secrets included, never listed or logged. */
export interface BotSettings {
  id: string;
  username: string;
  token: string;
  webhookSecret: string;
  botInfo: Record<string, unknown> | null;
  gateway: GatewaySettings | null;
  pixel: PixelSettings | null;
  /** Paid orders get join-request links (true) or `member_limit: 1` links (false). */
  joinRequests: boolean;
}

/** A bot to register. */
export interface NewBot {
  id: string;
  username: string;
  token: string;
  webhookSecret: string;
  botInfo?: Record<string, unknown> | null;
  gateway?: GatewaySettings | null;
  pixel?: PixelSettings | null;
  /** Absent: true for a new bot, unchanged for a registered one. */
  joinRequests?: boolean;
}

/** The bot repository. */
export interface BotRepository {
  upsert(bot: NewBot): Promise<BotRecord>;
  /** Everything about a bot, secrets included (Telegram, payment and Meta edges only). */
  settings(id: string): Promise<BotSettings | null>;
  /**
   * The settings of bot `botId` when its Meta pixel is `pixelId` (the conversion sender sends a bot's
   * events with its own token); without `botId` (events from before they recorded their bot), those
   * of the oldest bot with that pixel.
   */
  settingsByPixel(pixelId: string, botId?: string | null): Promise<BotSettings | null>;
  list(): Promise<BotRecord[]>;
  get(id: string): Promise<BotRecord | null>;
  /**
   * Changes a registered bot's gateway, pixel (null removes it) or invite-link mode, secrets sealed
   * like on registration; null when there is no such bot.
   */
  update(
    id: string,
    change: { gateway?: GatewaySettings; pixel?: PixelSettings | null; joinRequests?: boolean },
  ): Promise<BotRecord | null>;
  /** The bot's secrets, for the Telegram edge only. */
  secrets(id: string): Promise<{ token: string; webhookSecret: string } | null>;
  remove(id: string): Promise<boolean>;
}

interface Row {
  id: string;
  username: string;
  join_requests: boolean;
  created_at: Date | string;
}
const toBot = (r: Row): BotRecord => ({
  id: r.id,
  username: r.username,
  joinRequests: r.join_requests,
  createdAt: new Date(r.created_at).toISOString(),
});

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const SETTINGS = 'id, username, token, webhook_secret, bot_info, gateway, pixel, join_requests';
interface SettingsRow {
  id: string;
  username: string;
  token: string;
  webhook_secret: string;
  bot_info: Record<string, unknown> | null;
  gateway: GatewaySettings | null;
  pixel: PixelSettings | null;
  join_requests: boolean;
}
/** Gateway fields that are not secret; every other string field of a gateway is. */
const GATEWAY_PLAIN = new Set(['kind', 'api_base']);

/** Seals (or opens) each secret of a bot's settings with `apply`. */
function mapSecrets(
  id: string,
  parts: { gateway: GatewaySettings | null; pixel: PixelSettings | null },
  apply: (value: string, where: string) => string,
): { gateway: GatewaySettings | null; pixel: PixelSettings | null } {
  const gateway =
    parts.gateway === null
      ? null
      : (Object.fromEntries(
          Object.entries(parts.gateway).map(([k, v]) => [
            k,
            typeof v === 'string' && !GATEWAY_PLAIN.has(k) ? apply(v, `bots.gateway.${k}:${id}`) : v,
          ]),
        ) as GatewaySettings);
  const pixel =
    parts.pixel === null
      ? null
      : { ...parts.pixel, access_token: apply(parts.pixel.access_token, `bots.pixel.access_token:${id}`) };
  return { gateway, pixel };
}

/** Creates the repository over the ORM's pool; `box` seals secrets at rest (default: stored as given). */
export function createBotRepository(orm: MikroORM, box: SecretBox = createSecretBox()): BotRepository {
  const sql = createSql(orm);
  const open = box.open.bind(box);
  const toSettings = (r: SettingsRow): BotSettings => ({
    id: r.id,
    username: r.username,
    token: open(r.token, `bots.token:${r.id}`),
    webhookSecret: open(r.webhook_secret, `bots.webhook_secret:${r.id}`),
    botInfo: r.bot_info,
    joinRequests: r.join_requests,
    ...mapSecrets(r.id, { gateway: r.gateway, pixel: r.pixel }, open),
  });
  return {
    async upsert(bot) {
      const sealed = mapSecrets(
        bot.id,
        { gateway: bot.gateway ?? null, pixel: bot.pixel ?? null },
        box.seal.bind(box),
      );
      const rows = await sql<Row>(
        `insert into bots (id, username, token, webhook_secret, bot_info, gateway, pixel, join_requests)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8::boolean, true))
         on conflict (id) do update set username = excluded.username, token = excluded.token,
           webhook_secret = excluded.webhook_secret, bot_info = coalesce(excluded.bot_info, bots.bot_info),
           gateway = coalesce(excluded.gateway, bots.gateway), pixel = coalesce(excluded.pixel, bots.pixel),
           join_requests = coalesce($8::boolean, bots.join_requests)
         returning id, username, join_requests, created_at`,
        [
          bot.id,
          bot.username,
          box.seal(bot.token, `bots.token:${bot.id}`),
          box.seal(bot.webhookSecret, `bots.webhook_secret:${bot.id}`),
          json(bot.botInfo),
          json(sealed.gateway),
          json(sealed.pixel),
          bot.joinRequests ?? null,
        ],
      );
      return toBot(rows[0]!);
    },
    async update(id, change) {
      const sealed = mapSecrets(
        id,
        { gateway: change.gateway ?? null, pixel: change.pixel ?? null },
        box.seal.bind(box),
      );
      const rows = await sql<Row>(
        `update bots set
           gateway = case when $2 then $3::jsonb else gateway end,
           pixel = case when $4 then $5::jsonb else pixel end,
           join_requests = coalesce($6::boolean, join_requests)
         where id = $1 returning id, username, join_requests, created_at`,
        [
          id,
          change.gateway !== undefined,
          json(sealed.gateway),
          change.pixel !== undefined,
          json(sealed.pixel),
          change.joinRequests ?? null,
        ],
      );
      return rows[0] === undefined ? null : toBot(rows[0]);
    },
    async list() {
      return (await sql<Row>('select id, username, join_requests, created_at from bots order by id')).map(
        toBot,
      );
    },
    async get(id) {
      const rows = await sql<Row>('select id, username, join_requests, created_at from bots where id = $1', [
        id,
      ]);
      return rows[0] === undefined ? null : toBot(rows[0]);
    },
    async secrets(id) {
      const rows = await sql<{ token: string; webhook_secret: string }>(
        'select token, webhook_secret from bots where id = $1',
        [id],
      );
      if (rows[0] === undefined) return null;
      return {
        token: open(rows[0].token, `bots.token:${id}`),
        webhookSecret: open(rows[0].webhook_secret, `bots.webhook_secret:${id}`),
      };
    },
    async settings(id) {
      const rows = await sql<SettingsRow>(`select ${SETTINGS} from bots where id = $1`, [id]);
      return rows[0] === undefined ? null : toSettings(rows[0]);
    },
    async settingsByPixel(pixelId, botId = null) {
      const rows = await sql<SettingsRow>(
        `select ${SETTINGS} from bots where pixel->>'pixel_id' = $1 and ($2::text is null or id = $2)
         order by created_at, id limit 1`,
        [pixelId, botId],
      );
      return rows[0] === undefined ? null : toSettings(rows[0]);
    },
    async remove(id) {
      return (await sql('delete from bots where id = $1 returning id', [id])).length > 0;
    },
  };
}
