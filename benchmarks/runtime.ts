/**
 * The durable runtime through in-process injection (no HTTP): events/s and commit latency (inject ->
 * committed) on real Postgres with group commit, heap per active actor, and bytes per passivated
 * conversation. Uses DATABASE_TEST_URL's server, in a fresh database dropped afterwards.
 * Prints one JSON object.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.ts';
import { startPrimary } from '../src/cluster/start-primary.ts';
import { environment, quantile, round } from './lib/stats.ts';

const BASE = process.env['DATABASE_TEST_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const USERS = Number(process.env['BENCH_USERS'] ?? 400);
const EVENTS_PER_USER = Number(process.env['BENCH_EVENTS'] ?? 10);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 100);

const flow = {
  id: 'bench',
  flow_start_step_id: 'q',
  flow_steps: [
    {
      id: 'q',
      type: 'input',
      config: { text: 'Your e-mail?' },
      conditions: [{ type: 'text_validation', validation: 'email', target_step: 'done' }],
    },
    { id: 'done', type: 'end', config: { text: 'thanks' } },
  ],
};

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: BASE });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

const name = `botflow_bench_${randomBytes(4).toString('hex')}`;
await admin(`create database ${name}`);
const url = new URL(BASE);
url.pathname = `/${name}`;
try {
  const app = await bootstrap({
    env: { DATABASE_URL: url.toString(), LOG_LEVEL: 'silent', TELEGRAM_API_ROOT: 'http://127.0.0.1:9' },
    timerIntervalMs: 0,
    http: false,
    // The runtime alone: sends succeed at once (the webhook and funnel scenarios measure real sends).
    effectHandlers: { send: async () => null, notice: async () => null, error: async () => null },
  });
  await app.addBot({ id: 'b', username: 'bench_bot', token: '1:x' });
  await app.publishFlow('b', flow);

  // Warm-up: compile, connections, JIT.
  for (let i = 0; i < 50; i++) await app.inject('b', String(10_000_000 + i), { type: 'start' });

  const latencies: number[] = [];
  const work: Array<() => Promise<void>> = [];
  for (let u = 0; u < USERS; u++) {
    work.push(async () => {
      for (let e = 0; e < EVENTS_PER_USER; e++) {
        const started = process.hrtime.bigint();
        await app.inject(
          'b',
          String(u + 1),
          e === 0 ? { type: 'start' } : { type: 'text', text: `not an email ${e}` },
        );
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    });
  }
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < work.length) await work[next++]!();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const events = USERS * EVENTS_PER_USER;

  // Heap per active actor: revive N idle conversations into memory and compare heaps.
  const gc = (globalThis as { gc?: () => void }).gc;
  app.host.passivateIdle(-1);
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  for (let u = 0; u < USERS; u++) await app.inject('b', String(u + 1), { type: 'text', text: 'still no' });
  gc?.();
  const heapPerActor = (process.memoryUsage().heapUsed - heap0) / USERS;
  const rowBytes = await app.db.orm.em
    .getConnection()
    .execute<{ avg: string }[]>('select avg(pg_column_size(c.*))::text as avg from conversations c');
  await app.close();

  /** The same load through the cluster: inputs enter via the workers in turn (IPC from the primary). */
  async function runCluster(workers: number) {
    const primary = await startPrimary({
      workers,
      env: {
        DATABASE_URL: url.toString(),
        PORT: '0',
        LOG_LEVEL: 'silent',
        TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
      },
    });
    await primary.settled();
    const lat: number[] = [];
    const jobs: Array<() => Promise<void>> = [];
    for (let u = 0; u < USERS; u++) {
      jobs.push(async () => {
        for (let e = 0; e < EVENTS_PER_USER; e++) {
          const t = process.hrtime.bigint();
          await primary.injectVia((u + e) % workers, {
            botId: 'b',
            userId: String(workers * 1_000_000 + u + 1),
            event: e === 0 ? { type: 'start' } : { type: 'text', text: `no ${e}` },
          });
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      });
    }
    let i = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (i < jobs.length) await jobs[i++]!();
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await primary.stop();
    return {
      events_per_second: round((USERS * EVENTS_PER_USER) / secs, 1),
      latency_ms: { p50: round(quantile(lat, 0.5)), p99: round(quantile(lat, 0.99)) },
    };
  }
  const cluster1 = await runCluster(1);
  const cluster2 = await runCluster(2);

  process.stdout.write(
    `${JSON.stringify({
      ...(await environment()),
      in_process: 'one worker, no IPC (bootstrap + inject)',
      users: USERS,
      events,
      concurrency: CONCURRENCY,
      events_per_second: round(events / seconds, 1),
      commit_latency_ms: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
      cpu_ms_per_event: round((cpu.user + cpu.system) / 1000 / events),
      heap_bytes_per_active_actor: gc === undefined ? null : Math.round(heapPerActor),
      bytes_per_passivated_conversation_row: Math.round(Number(rowBytes[0]!.avg)),
      cluster: {
        workers_1: cluster1,
        workers_2: cluster2,
        ratio_2_over_1: round(cluster2.events_per_second / cluster1.events_per_second, 3),
        note: 'inputs enter through the workers in turn; with 2 workers about half are forwarded to their owner over IPC',
      },
    })}\n`,
  );
} finally {
  await admin(`drop database if exists ${name} with (force)`);
}
