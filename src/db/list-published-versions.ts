/** Every published flow version with its flow's bot and name, newest first per flow (the console's pickers). */
import type { createSql } from './sql-client.ts';

/** Lists the published versions. */
export async function listPublishedVersions(sql: ReturnType<typeof createSql>): Promise<unknown[]> {
  const rows = await sql<{
    flow_id: string;
    bot_id: string;
    name: string;
    version: number;
    published_at: Date;
  }>(
    `select v.flow_id, f.bot_id, f.name, v.version, v.published_at from flow_versions v
     join flows f on f.id = v.flow_id order by v.published_at desc, v.flow_id, v.version desc limit 500`,
  );
  return rows.map((r) => ({ ...r, published_at: new Date(r.published_at).toISOString() }));
}
