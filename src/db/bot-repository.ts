/**
 * Bots: their Telegram username, token and webhook secret. Tokens are read only by the Telegram edge;
 * listings never include them.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { createSql } from './sql-client.ts';

/** A bot as listed (no secrets). */
export interface BotRecord {
  id: string;
  username: string;
  createdAt: string;
}

/** Payment gateway settings of a bot (credentials: never logged). */
export type GatewaySettings =
  | { kind: 'sandbox'; api_base: string; api_key: string; webhook_secret: string }
  | { kind: 'mercadopago'; access_token: string; webhook_secret: string; api_base?: string }
  | { kind: 'pushinpay'; token: string; webhook_token: string; api_base?: string };

/** Meta pixel settings of a bot. */
export interface PixelSettings {
  pixel_id: string;
  access_token: string;
  test_event_code?: string;
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
}

/** The bot repository. */
export interface BotRepository {
  upsert(bot: NewBot): Promise<BotRecord>;
  /** Everything about a bot, secrets included (Telegram, payment and Meta edges only). */
  settings(id: string): Promise<BotSettings | null>;
  /** The bot whose Meta pixel this is (the conversion sender needs its token). */
  settingsByPixel(pixelId: string): Promise<BotSettings | null>;
  list(): Promise<BotRecord[]>;
  get(id: string): Promise<BotRecord | null>;
  /** The bot's secrets, for the Telegram edge only. */
  secrets(id: string): Promise<{ token: string; webhookSecret: string } | null>;
  remove(id: string): Promise<boolean>;
}

interface Row {
  id: string;
  username: string;
  created_at: Date | string;
}
const toBot = (r: Row): BotRecord => ({
  id: r.id,
  username: r.username,
  createdAt: new Date(r.created_at).toISOString(),
});

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const SETTINGS = 'id, username, token, webhook_secret, bot_info, gateway, pixel';
interface SettingsRow {
  id: string;
  username: string;
  token: string;
  webhook_secret: string;
  bot_info: Record<string, unknown> | null;
  gateway: GatewaySettings | null;
  pixel: PixelSettings | null;
}
const toSettings = (r: SettingsRow): BotSettings => ({
  id: r.id,
  username: r.username,
  token: r.token,
  webhookSecret: r.webhook_secret,
  botInfo: r.bot_info,
  gateway: r.gateway,
  pixel: r.pixel,
});

/** Creates the repository over the ORM's pool. */
export function createBotRepository(orm: MikroORM): BotRepository {
  const sql = createSql(orm);
  return {
    async upsert(bot) {
      const rows = await sql<Row>(
        `insert into bots (id, username, token, webhook_secret, bot_info, gateway, pixel)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (id) do update set username = excluded.username, token = excluded.token,
           webhook_secret = excluded.webhook_secret, bot_info = coalesce(excluded.bot_info, bots.bot_info),
           gateway = coalesce(excluded.gateway, bots.gateway), pixel = coalesce(excluded.pixel, bots.pixel)
         returning id, username, created_at`,
        [
          bot.id,
          bot.username,
          bot.token,
          bot.webhookSecret,
          json(bot.botInfo),
          json(bot.gateway),
          json(bot.pixel),
        ],
      );
      return toBot(rows[0]!);
    },
    async list() {
      return (await sql<Row>('select id, username, created_at from bots order by id')).map(toBot);
    },
    async get(id) {
      const rows = await sql<Row>('select id, username, created_at from bots where id = $1', [id]);
      return rows[0] === undefined ? null : toBot(rows[0]);
    },
    async secrets(id) {
      const rows = await sql<{ token: string; webhook_secret: string }>(
        'select token, webhook_secret from bots where id = $1',
        [id],
      );
      return rows[0] === undefined ? null : { token: rows[0].token, webhookSecret: rows[0].webhook_secret };
    },
    async settings(id) {
      const rows = await sql<SettingsRow>(`select ${SETTINGS} from bots where id = $1`, [id]);
      return rows[0] === undefined ? null : toSettings(rows[0]);
    },
    async settingsByPixel(pixelId) {
      const rows = await sql<SettingsRow>(
        `select ${SETTINGS} from bots where pixel->>'pixel_id' = $1 limit 1`,
        [pixelId],
      );
      return rows[0] === undefined ? null : toSettings(rows[0]);
    },
    async remove(id) {
      return (await sql('delete from bots where id = $1 returning id', [id])).length > 0;
    },
  };
}
