/** The funnel's step counts of one flow version since a day: per step, the conversations' entries. */
import type { createSql } from './sql-client.ts';

/** Reads, per step of `flowId` version `version`, the entries on UTC days from `since`'s day on. */
export async function readStepCounts(
  sql: ReturnType<typeof createSql>,
  flowId: string,
  version: number,
  since: Date,
): Promise<Map<string, number>> {
  const rows = await sql<{ step: string; entered: number }>(
    `select step, sum(entered)::int as entered from step_counts
     where flow_id = $1 and flow_version = $2 and day >= ($3::timestamptz at time zone 'UTC')::date
     group by step`,
    [flowId, version, since],
  );
  return new Map(rows.map((r) => [r.step, Number(r.entered)]));
}
