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

/** The bot repository. */
export interface BotRepository {
  upsert(bot: { id: string; username: string; token: string; webhookSecret: string }): Promise<BotRecord>;
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

/** Creates the repository over the ORM's pool. */
export function createBotRepository(orm: MikroORM): BotRepository {
  const sql = createSql(orm);
  return {
    async upsert(bot) {
      const rows = await sql<Row>(
        `insert into bots (id, username, token, webhook_secret) values ($1, $2, $3, $4)
         on conflict (id) do update set username = excluded.username, token = excluded.token,
           webhook_secret = excluded.webhook_secret
         returning id, username, created_at`,
        [bot.id, bot.username, bot.token, bot.webhookSecret],
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
    async remove(id) {
      return (await sql('delete from bots where id = $1 returning id', [id])).length > 0;
    },
  };
}
