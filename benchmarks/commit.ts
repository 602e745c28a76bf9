/**
 * One group commit's Postgres cost: backend CPU (from `/proc`) and wall time per commit of the
 * production statement (the payment, tracking and step-count writers registered), for batches of 1
 * and 20 rows that each carry an input key, one effect and a step count, as most webhook turns do.
 * Each size runs the batch's variant (the parts it has nothing for left out: timers, payments,
 * tracking, done-marks) beside the whole statement (every part, most of them with empty arrays), on
 * sessions of their own, alternately, for `BENCH_ROUNDS` rounds; generic plans, as the runtime's
 * pooled sessions use. Prints one JSON object with the ratios variant/whole.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { openDatabase } from '../src/db/open-database.ts';
import { STEP_COUNT_WRITER } from '../src/db/step-count-writer.ts';
import { buildCommitStatement } from '../src/db/write-commit-batch.ts';
import { PAYMENT_RECORD_WRITERS } from '../src/payments/payment-record-writers.ts';
import type { CommitRow } from '../src/runtime/ports.ts';
import { TRACKING_RECORD_WRITERS } from '../src/tracking/tracking-record-writers.ts';
import { environment, quantile, round } from './lib/stats.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';

const COMMITS = Number(process.env['BENCH_COMMITS'] ?? 600);
/** Commits run before measuring on each session (its plans made, its caches warm). */
const WARMUP = 100;
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 2));
/** Conversations per size, committed over and over (each commit updates them at the next version). */
const CONVERSATIONS_PER_ROW = 50;
const log = (line: string) => process.stderr.write(`commit: ${line}\n`);

const statement = buildCommitStatement([
  ...PAYMENT_RECORD_WRITERS,
  ...TRACKING_RECORD_WRITERS,
  STEP_COUNT_WRITER,
]);
const snapshot = {
  status: 'active',
  value: 'ask_email',
  historyValue: {},
  context: { attempts: 0, steps: 1, offer: 0, seq: 1, charge: null, paid: [], halted: null },
  children: {},
} as unknown as CommitRow['snapshot'];

/** utime + stime of a process, in ms. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs `COMMITS` commits of `size` rows on a session of its own; the whole statement or each batch's variant. */
async function measure(url: string, size: number, whole: boolean, firstUser: number) {
  const session = new pg.Client({ connectionString: url });
  await session.connect();
  try {
    await session.query('set plan_cache_mode = force_generic_plan');
    const { rows } = await session.query<{ pid: number }>('select pg_backend_pid() as pid');
    const pid = rows[0]!.pid;
    const versions = new Map<string, number>();
    const tag = `${whole ? 'w' : 'v'}${firstUser}`;
    let seq = 0;
    let cpuBefore = 0;
    let started = 0;
    for (let c = 0; c < COMMITS + WARMUP; c++) {
      if (c === WARMUP) {
        cpuBefore = cpuMsOf(pid);
        started = performance.now();
      }
      const batch: CommitRow[] = Array.from({ length: size }, (_, i) => {
        const userId = String(firstUser + ((c * size + i) % (size * CONVERSATIONS_PER_ROW)));
        seq += 1;
        return {
          botId: 'bench',
          userId,
          shard: 3,
          epoch: 0,
          expectedVersion: versions.get(userId) ?? 0,
          flowId: 'vip',
          flowVersion: 1,
          snapshot,
          effects: [{ key: `${tag}:e${seq}`, effect: { type: 'send', step: 'ask_email' } as never }],
          timersStarted: [],
          timersCancelled: [],
          inputKey: `${tag}:i${seq}`,
          records: [{ kind: 'stepsEntered', steps: ['ask_email'] }],
        };
      });
      const values = statement.bind(
        batch.map((row, i) => ({ i, row })),
        '5',
        [],
      );
      const run = whole ? { key: 'whole', text: statement.text, values } : statement.variant(values);
      const result = await session.query<{ i: number; outcome: string }>({
        name: `bf_bench_${run.key}`,
        text: run.text,
        values: run.values,
      });
      for (const { i, outcome } of result.rows) {
        if (outcome !== 'ok') throw new Error(`a commit row came back ${outcome}`);
        versions.set(batch[i]!.userId, batch[i]!.expectedVersion + 1);
      }
    }
    return {
      postgres_cpu_ms_per_commit: round((cpuMsOf(pid) - cpuBefore) / COMMITS, 3),
      wall_ms_per_commit: round((performance.now() - started) / COMMITS, 3),
    };
  } finally {
    await session.end();
  }
}

const database = await createThrowawayDatabase();
try {
  const db = await openDatabase({ url: database.url, dataDir: '/nonexistent' });
  await db.close();
  const results: Record<
    string,
    { whole: number[]; variant: number[]; wallWhole: number[]; wallVariant: number[] }
  > = {};
  let nextUser = 1_000_000;
  for (let r = 0; r < ROUNDS; r++) {
    for (const size of [1, 20]) {
      const entry = (results[`rows_${size}`] ??= { whole: [], variant: [], wallWhole: [], wallVariant: [] });
      log(`round ${r + 1}: ${COMMITS} commits of ${size} row(s), the whole statement, then the variant`);
      const whole = await measure(database.url, size, true, (nextUser += 1_000_000));
      const variant = await measure(database.url, size, false, (nextUser += 1_000_000));
      entry.whole.push(whole.postgres_cpu_ms_per_commit);
      entry.variant.push(variant.postgres_cpu_ms_per_commit);
      entry.wallWhole.push(whole.wall_ms_per_commit);
      entry.wallVariant.push(variant.wall_ms_per_commit);
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([size, e]) => [
      size,
      {
        postgres_cpu_ms_per_commit: { whole_statement: e.whole, variant: e.variant },
        wall_ms_per_commit: { whole_statement: e.wallWhole, variant: e.wallVariant },
        ratio_cpu_variant_over_whole_by_round: e.variant.map((v, i) => round(v / e.whole[i]!, 3)),
        ratio_cpu_variant_over_whole: round(
          quantile(
            e.variant.map((v, i) => v / e.whole[i]!),
            0.5,
          ),
          3,
        ),
      },
    ]),
  );
  process.stdout.write(
    `${JSON.stringify({
      ...(await environment()),
      commits_per_measure: COMMITS,
      rounds: ROUNDS,
      ...summary,
      note: 'each batch row: an input key, one effect and a step count; each measure on a session of its own, which plans the statement (generically) at its first commit, on the tables as they are then',
    })}\n`,
  );
} finally {
  await database.drop();
}
