/**
 * The funnel's step counts, written inside the group commit: each committed row's entered steps (a
 * `stepsEntered` record the conversation host adds) become one upsert per batch into `step_counts`,
 * summed per (flow version, step, UTC day). A refused row (a redelivered update) counts nothing.
 */
import type { CommitRecord, RecordWriter } from '../runtime/ports.ts';

/** The steps one transition entered, in order. */
export interface StepsEnteredRecord extends CommitRecord {
  kind: 'stepsEntered';
  steps: string[];
}

/** Sums the batch's entries per key, in key order (concurrent batches lock the same rows in one order). */
export const STEP_COUNT_WRITER: RecordWriter = {
  kind: 'stepsEntered',
  columns: [
    ['flow_id', 'text'],
    ['flow_version', 'int'],
    ['step', 'text'],
  ],
  tuples: (row, records) =>
    (records as readonly StepsEnteredRecord[]).flatMap((r) =>
      r.steps.map((step) => [row.flowId, row.flowVersion, step]),
    ),
  statement: (source) =>
    `insert into step_counts (flow_id, flow_version, step, day, entered)
     select flow_id, flow_version, step, (now() at time zone 'UTC')::date, count(*)::int
     from ${source} as x group by flow_id, flow_version, step order by flow_id, flow_version, step
     on conflict (flow_id, flow_version, step, day) do update set entered = step_counts.entered + excluded.entered`,
};
