/**
 * The whole funnel end to end (the demo's buyers: ad click, /start, buttons, PIX, join request, Meta
 * Purchase) on real Postgres and Redis, at 1 worker and on a real cluster of 2 workers, in fresh
 * databases dropped afterwards. Prints buyers/s, accepted webhooks/s and webhook → committed p50/p99
 * for both, and the 2/1 throughput ratio. A run whose report is not `ok` fails the benchmark.
 */
import { runDemo, type DemoReport } from '../src/demo/run-demo.ts';
import { environment, round } from './lib/stats.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const BUYERS = Number(process.env['BENCH_BUYERS'] ?? 200);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 50);

/** Runs the demo's buyers against `workers` workers in a fresh database. */
async function measure(workers: number): Promise<Record<string, unknown>> {
  const database = await createThrowawayDatabase();
  try {
    const report: DemoReport = await runDemo({
      buyers: BUYERS,
      workers,
      concurrency: CONCURRENCY,
      env: { DATABASE_URL: database.url, REDIS_URL: REDIS, LOG_LEVEL: 'silent' },
    });
    if (!report.ok) throw new Error(`the funnel report is not ok: ${JSON.stringify(report)}`);
    const seconds = report.duration_ms / 1000;
    return {
      workers,
      buyers: report.buyers,
      paid: report.paid,
      purchase_events_sent: report.purchase_events_sent,
      webhooks: report.webhooks,
      seconds: round(seconds),
      buyers_per_s: round(report.buyers / seconds),
      webhooks_per_s: round(report.webhooks / seconds),
      webhook_to_committed_p50_ms: report.p50_ms,
      webhook_to_committed_p99_ms: report.p99_ms,
    };
  } finally {
    await database.drop();
  }
}

const one = await measure(1);
const two = await measure(2);
console.log(
  JSON.stringify({
    ...(await environment()),
    buyers: BUYERS,
    concurrency: CONCURRENCY,
    note: 'each buyer walks the VIP flow with its 0.3 s compressed delays, so buyers/s is bounded by the flow, not only by botflow',
    workers_1: one,
    workers_2: two,
    ratio_2_over_1_webhooks_per_s: round(
      (two['webhooks_per_s'] as number) / (one['webhooks_per_s'] as number),
    ),
  }),
);
