/**
 * Keeps the tables that grow with every message bounded: deletes finished rows past the retention
 * period (done or dead effects, fired or cancelled timers, sent or dead conversion events). Pending rows
 * are never touched; payments, access grants, users and conversations are business records and stay.
 * Deletes walk the primary key (ids grow with time), so a run costs in proportion to what it deletes.
 */
import type { Sql } from './sql-client.ts';

/** The pruned tables. */
const TABLES = ['effects', 'timers', 'conversion_events'] as const;

/** Deletes up to `chunk` × `maxChunks` finished rows older than `retentionDays` per table; returns the counts. */
export async function pruneOldRows(
  sql: Sql,
  options: { retentionDays: number; chunk?: number; maxChunks?: number },
): Promise<Record<(typeof TABLES)[number], number>> {
  const chunk = options.chunk ?? 5000;
  const counts = { effects: 0, timers: 0, conversion_events: 0 };
  for (const table of TABLES) {
    for (let i = 0; i < (options.maxChunks ?? 20); i++) {
      // The first row young enough to keep bounds the walk: every older id is a candidate.
      const deleted = await sql(
        `with young as (
           select id from ${table} where created_at >= now() - make_interval(days => $1) order by id limit 1
         )
         delete from ${table} where id in (
           select id from ${table}
           where status <> 'pending' and id < coalesce((select id from young), 9223372036854775807)
           order by id limit $2
         ) returning 1`,
        [options.retentionDays, chunk],
      );
      counts[table] += deleted.length;
      if (deleted.length < chunk) break;
    }
  }
  return counts;
}
