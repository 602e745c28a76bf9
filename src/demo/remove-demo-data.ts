/**
 * Removes what a demo run wrote to a real Postgres and Redis (its bot, flows, buyers, payments, outbox
 * rows and conversion events; its Redis keys), so a demo against a shared database leaves nothing behind.
 * It runs after botflow stopped, on its own connections, so no late write of the run survives it.
 */
import { Redis } from 'ioredis';
import pg from 'pg';

/** What identifies one demo run's data. */
export interface DemoFootprint {
  botId: string;
  /** The demo's own (fake) pixel: its conversion events are the demo's. */
  pixelId: string;
  /** The run's Redis key prefix. */
  redisPrefix: string;
}

/** Deletes the demo bot's rows in every table keyed by bot, then the bot itself. */
async function removeRows(databaseUrl: string, footprint: DemoFootprint): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const sql = async <T extends object>(text: string, values: unknown[] = []): Promise<T[]> =>
    (await client.query<T>(text, values)).rows;
  try {
    await client.query('begin');
    const orders = await sql<{ order_id: string }>(`select order_id from payments where bot_id = $1`, [
      footprint.botId,
    ]);
    // Inputs are keyed by bot (tg:BOT:update) or by order (paid:ORDER); both are the demo's alone.
    await sql(
      `delete from processed_inputs where strpos(key, $1) > 0 or split_part(key, ':', 2) = any($2::text[])`,
      [footprint.botId, orders.map((o) => o.order_id)],
    );
    await sql(`delete from step_counts where flow_id in (select id from flows where bot_id = $1)`, [
      footprint.botId,
    ]);
    await sql(`delete from flow_versions where flow_id in (select id from flows where bot_id = $1)`, [
      footprint.botId,
    ]);
    const tables = await sql<{ table_name: string }>(
      `select table_name from information_schema.columns
      where column_name = 'bot_id' and table_schema = current_schema() order by table_name`,
    );
    for (const { table_name: table } of tables)
      await sql(`delete from "${table.replaceAll('"', '""')}" where bot_id = $1`, [footprint.botId]);
    await sql(`delete from conversion_events where pixel_id = $1`, [footprint.pixelId]);
    await sql(`delete from bots where id = $1`, [footprint.botId]);
    await client.query('commit');
  } finally {
    await client.end();
  }
}

/** Unlinks every key under the run's prefix. */
async function removeKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Removes the run's rows (on Postgres; the embedded store is thrown away whole) and Redis keys. */
export async function removeDemoData(
  urls: { databaseUrl: string | undefined; redisUrl: string | undefined },
  footprint: DemoFootprint,
): Promise<void> {
  if (urls.databaseUrl !== undefined) await removeRows(urls.databaseUrl, footprint);
  if (urls.redisUrl !== undefined) await removeKeys(urls.redisUrl, footprint.redisPrefix);
}
