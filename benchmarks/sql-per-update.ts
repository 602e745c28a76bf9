/**
 * SQL statements and transactions per webhook update: one in-process botflow (real Postgres and
 * Redis, the VIP funnel, the sandbox gateway) drives users through the webhook scenario's four updates
 * and counts, for the measured users only, the statements its `pg` clients sent (a counter on
 * `pg.Client.prototype.query`), the transactions they made (explicit ones, and single statements
 * outside them), and the database's committed transactions (`pg_stat_database`, which also counts
 * autovacuum's).
 * Prints one JSON object. Usage: `node benchmarks/sql-per-update.ts` (BENCH_UPDATES, default 400).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.ts';
import { startFakeBotApi } from '../src/sim/fake-bot-api.ts';
import { startSandboxGateway } from '../src/sim/sandbox-gateway.ts';
import { createHttpClient, runConcurrently } from './lib/http-load.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';
import { watchCalls } from './lib/watch-calls.ts';
import { addBenchBot, updateOf } from './lib/funnel-update.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const UPDATES = Number(process.env['BENCH_UPDATES'] ?? 400);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 50);
const PER_USER = 4;
const USERS = Math.max(1, Math.floor(UPDATES / PER_USER));
const BOT_ID = `sqlbench_${randomBytes(4).toString('hex')}`;
const TOKEN = `7300000003:bench-${randomBytes(8).toString('hex')}`;

/** Counts every statement sent by the ORM's `pg` clients (MikroORM may load its own copy of pg). */
const counter = { counting: false, statements: 0, transactions: 0, byText: new Map<string, number>() };
/** Clients inside an explicit transaction (`begin` seen, `commit`/`rollback` not yet). */
const inTransaction = new WeakSet<object>();
const ormPg = createRequire(import.meta.resolve('@mikro-orm/postgresql'))('pg') as typeof pg;
const query = ormPg.Client.prototype.query;
ormPg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  if (counter.counting) {
    counter.statements += 1;
    const first = args[0] as string | { text?: string };
    const text = (typeof first === 'string' ? first : (first?.text ?? '')).replace(/\s+/g, ' ').trim();
    const head = text.slice(0, 60);
    const verb = text.slice(0, 8).toLowerCase();
    if (verb.startsWith('begin') || verb.startsWith('start')) {
      inTransaction.add(this);
      counter.transactions += 1;
    } else if (verb.startsWith('commit') || verb.startsWith('rollback')) inTransaction.delete(this);
    else if (!inTransaction.has(this)) counter.transactions += 1;
    counter.byText.set(head, (counter.byText.get(head) ?? 0) + 1);
  }
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

const fake = await startFakeBotApi();
fake.addBot({ token: TOKEN, id: 7300000003, username: 'bench_sql_bot' });
const calls = watchCalls(fake);
const sandbox = await startSandboxGateway({ apiKey: 'bench-key', webhookSecret: 'bench-secret' });
const client = createHttpClient(CONCURRENCY);
const database = await createThrowawayDatabase();
const dbName = new URL(database.url).pathname.slice(1);
const stats = new pg.Client({ connectionString: process.env['DATABASE_TEST_URL'] ?? database.url });
await stats.connect();
/** Committed transactions of the bench database so far (an idle backend reports within ~10 s). */
async function committed(): Promise<number> {
  await new Promise((r) => setTimeout(r, 11_000));
  await stats.query('select pg_stat_clear_snapshot()');
  const res = await stats.query<{ xact_commit: string }>(
    'select xact_commit from pg_stat_database where datname = $1',
    [dbName],
  );
  return Number(res.rows[0]!.xact_commit);
}

const app = await bootstrap({
  env: { DATABASE_URL: database.url, REDIS_URL: REDIS, LOG_LEVEL: 'silent' },
  config: { telegramApiRoot: fake.url, metaGraphUrl: 'http://127.0.0.1:9', publicUrl: 'http://127.0.0.1:9' },
  http: { port: 0 },
  redisPrefix: `bf-sqlbench-${randomBytes(4).toString('hex')}`,
  jobsIntervalMs: 0,
});
let nextUpdateId = 1;
try {
  const { button, secret } = await addBenchBot(app, {
    id: BOT_ID,
    token: TOKEN,
    username: 'bench_sql_bot',
    sandboxUrl: sandbox.url,
  });
  const url = `${app.url}/telegram/${BOT_ID}`;

  /** Drives `users` users, one update of a user at a time, waiting for each update's sends. */
  async function drive(firstUser: number, users: number, sends: number[]): Promise<void> {
    await runConcurrently(users, CONCURRENCY, async (i) => {
      const user = firstUser + i;
      for (let k = 0; k < PER_USER; k++) {
        const before = calls.count(user);
        const answer = await client.send(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
          body: JSON.stringify(updateOf(user, k, button, nextUpdateId++)),
        });
        if (answer.status !== 200) throw new Error(`webhook answered ${answer.status}: ${answer.body}`);
        await calls.until(user, before + sends[k]!);
      }
    });
  }
  // Sends per update, from one slow user; then a warm-up (connections, flow cache, JIT).
  const sends: number[] = [];
  for (let k = 0; k < PER_USER; k++) {
    const before = calls.count(1);
    await client.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify(updateOf(1, k, button, nextUpdateId++)),
    });
    await new Promise((r) => setTimeout(r, 700));
    sends.push(calls.count(1) - before);
  }
  await drive(100, 10, sends);
  await new Promise((r) => setTimeout(r, 1000));

  const xactBefore = await committed();
  counter.counting = true;
  const started = performance.now();
  await drive(1_000_000, USERS, sends);
  const seconds = (performance.now() - started) / 1000;
  // Let the effect runner finish marking the measured effects done (they belong to these updates).
  await new Promise((r) => setTimeout(r, 1500));
  counter.counting = false;
  const xactAfter = await committed();
  const updates = USERS * PER_USER;
  // The stats reads themselves are two transactions of another database; none counted here.
  const top = [...counter.byText.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  process.stdout.write(
    `${JSON.stringify(
      {
        updates,
        users: USERS,
        sends_per_update: sends,
        updates_per_second: Math.round((updates / seconds) * 10) / 10,
        statements: counter.statements,
        transactions_client: counter.transactions,
        transactions_server: xactAfter - xactBefore,
        statements_per_update: Math.round((counter.statements / updates) * 1000) / 1000,
        transactions_per_update: Math.round((counter.transactions / updates) * 1000) / 1000,
        transactions_per_update_server: Math.round(((xactAfter - xactBefore) / updates) * 1000) / 1000,
        top_statements: Object.fromEntries(top),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await app.close();
  await stats.end();
  client.close();
  await Promise.all([fake.close(), sandbox.close()]);
  await database.drop();
}
