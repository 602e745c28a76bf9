/**
 * A published flow version's funnel: its definition (for the diagram) and, per step in the flow's
 * order, how many conversations entered it since `since` and the drop from the step before. Counts
 * come from `stepCounts` (the per-day step counters); a step nobody entered counts 0.
 */
import type { createSql } from './sql-client.ts';

/** One step of the funnel. */
export interface FunnelStep {
  step: string;
  type: string;
  count: number;
  /** Share lost from the step before, rounded to 4 places (null for the first step or after 0). */
  drop_from_previous: number | null;
}

/** Reads the definition of `flowId` version `version` and its funnel; null when no such version. */
export async function readFunnel(
  sql: ReturnType<typeof createSql>,
  query: { flowId: string; version: number; since: Date },
  stepCounts: (flowId: string, version: number, since: Date) => Promise<Map<string, number>>,
): Promise<{ definition: unknown; steps: FunnelStep[] } | null> {
  const [row] = await sql<{ definition: { flow_steps?: Array<{ id: string; type: string }> } }>(
    'select definition from flow_versions where flow_id = $1 and version = $2',
    [query.flowId, query.version],
  );
  if (row === undefined) return null;
  const counts = await stepCounts(query.flowId, query.version, query.since);
  let previous: number | null = null;
  const steps = (row.definition.flow_steps ?? []).map((s) => {
    const count = counts.get(s.id) ?? 0;
    const drop: number | null =
      previous === null || previous === 0
        ? null
        : Math.round(((previous - count) / previous) * 10_000) / 10_000;
    previous = count;
    return { step: s.id, type: s.type, count, drop_from_previous: drop };
  });
  return { definition: row.definition, steps };
}
