/**
 * The fault suite's system under test: a fresh Postgres database and Redis key prefix, TCP proxies in
 * front of both (what a fault cuts), the local stand-ins (fake Bot API, sandbox PIX gateway, fake Graph
 * API), and `botflow start` with 2 workers as its own process tree. Next to it, an in-process handle on
 * direct connections registers the bot and flow; the measurements read the database directly too, so
 * a cut never blinds the suite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { startFakeBotApi, type FakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import { startSandboxGateway, type SandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { freePort } from '../../src/sim/free-port.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
export const PG_BASE = process.env['DATABASE_TEST_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_BASE = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
export const PIXEL = { pixel_id: '998877665544332', access_token: 'faults-meta-access-token' };
export const GROUP_CHAT_ID = -1009876543210;
export const SANDBOX = { apiKey: 'sandbox-faults-key', webhookSecret: 'sandbox-faults-secret' };

/** What the buyers and the measurements need of a system under test (one cluster, or several hosts). */
export type FunnelUnderTest = Pick<
  Cluster,
  'url' | 'bot' | 'secret' | 'slug' | 'fake' | 'sandbox' | 'graph' | 'db'
>;

/** A running system under test. */
export interface Cluster {
  run: string;
  url: string;
  bot: { id: string; token: string; username: string; telegramId: number };
  /** The bot's webhook secret (Telegram's header), read from its setWebhook call. */
  secret: string;
  slug: string;
  fake: FakeBotApi;
  sandbox: SandboxGateway;
  graph: FakeGraphApi;
  /** Direct (unproxied) connection to the run's database. */
  db: pg.Pool;
  postgres: TcpProxy;
  redis: TcpProxy;
  /** Where botflow's own output goes. */
  logPath: string;
  /** The pids of the workers (children of the primary). */
  workerPids(): number[];
  /** Stops botflow, the stand-ins and the proxies, and drops the database; safe to call twice. */
  close(): Promise<void>;
}

const live = new Set<{ close(): Promise<void> }>();
const groups = new Set<number>();

/** Registers a system for closeAll (Ctrl-C); returns its unregister. */
export function trackLive(system: { close(): Promise<void> }): () => void {
  live.add(system);
  return () => live.delete(system);
}

/** Registers a process group for killAllSync; it leaves the registry when `child` exits. */
export function trackGroup(child: ChildProcess): void {
  groups.add(child.pid!);
  child.once('exit', () => groups.delete(child.pid!));
}

/** Closes every running cluster (Ctrl-C): process trees stopped, databases dropped. */
export async function closeAll(): Promise<void> {
  await Promise.all([...live].map((cluster) => cluster.close()));
}

/** SIGKILLs every botflow process group still running: the synchronous last resort at exit. */
export function killAllSync(): void {
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Deletes the run's Redis keys (its prefix only: Redis is shared). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_BASE, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Runs `sql` on the maintenance database. */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export const withUrl = (base: string, patch: (u: URL) => void) => {
  const url = new URL(base);
  patch(url);
  return url.toString();
};

/** The pids of a process's children (Linux /proc). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Resolves once `child` wrote `pattern` to its stderr, rejects on exit or after `ms`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => finish(new Error(`botflow did not start within ${ms} ms`)), ms);
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      if (pattern.test(seen)) finish();
    };
    const onExit = (code: number | null) => finish(new Error(`botflow exited early (code ${code})`));
    function finish(error?: Error) {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    }
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Stops the process tree: SIGTERM to the group (a drain), SIGKILL after `ms`. */
export async function stopTree(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const group = -child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(group, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      // already gone
    }
  }, ms);
  await exited;
  clearTimeout(timer);
  // Workers outliving their primary (they should not) go too.
  try {
    process.kill(group, 'SIGKILL');
  } catch {
    // the group is empty
  }
}

/** Starts everything for one fault; `label` names the log file. */
export async function startCluster(options: {
  label: string;
  logDir: string;
  logLevel: string;
  webhookRetry: { baseMs: number; attempts: number };
}): Promise<Cluster> {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `botflow_faults_${run}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      for (const step of cleanups.reverse()) await step().catch(() => {});
    })());
  try {
    await admin(`create database "${dbName}"`);
    cleanups.push(() => admin(`drop database if exists "${dbName}" with (force)`));
    const directDb = withUrl(PG_BASE, (u) => (u.pathname = `/${dbName}`));
    const pgTarget = new URL(PG_BASE);
    const redisTarget = new URL(REDIS_BASE);
    const postgres = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
    cleanups.push(() => postgres.close());
    const redis = await startTcpProxy({ host: redisTarget.hostname, port: Number(redisTarget.port || 6379) });
    cleanups.push(() => redis.close());
    const db = new pg.Pool({ connectionString: directDb, max: 4, connectionTimeoutMillis: 10_000 });
    cleanups.push(() => db.end());
    // An idle client's error (its connection closed under it) is the pool's 'error' event: unheard, it
    // would crash the suite with no report. The next query opens a fresh connection.
    db.on('error', (error) =>
      process.stderr.write(`[faults] the suite's own Postgres pool: ${error.message}\n`),
    );

    const retry = { retryBaseMs: options.webhookRetry.baseMs, maxAttempts: options.webhookRetry.attempts };
    const fake = await startFakeBotApi(retry);
    cleanups.push(() => fake.close());
    const sandbox = await startSandboxGateway({ ...SANDBOX, ...retry });
    cleanups.push(() => sandbox.close());
    const graph = await startFakeGraphApi({ tokens: [PIXEL.access_token] });
    cleanups.push(() => graph.close());
    const bot = {
      id: `faults-${run}`,
      token: '7100000001:AAfaults-token-for-the-fake-bot-api',
      username: `faults_${run}_bot`,
      telegramId: 7100000001,
    };
    fake.addBot({ token: bot.token, id: bot.telegramId, username: bot.username });

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const prefix = `faults-${run}`;
    cleanups.push(() => deleteKeys(prefix));
    const shared = {
      BOTFLOW_PUBLIC_URL: url,
      TELEGRAM_API_ROOT: fake.url,
      META_GRAPH_URL: graph.url,
      BOTFLOW_TRUST_PROXY: 'true',
      BOTFLOW_REDIS_PREFIX: prefix,
      BOTFLOW_DATA_DIR: join(tmpdir(), `botflow-faults-${run}`),
    };
    // The handle migrates the fresh database and registers; it owns no shard and runs no loop.
    const logger = pino({ level: options.logLevel }, pino.destination(2));
    const handle: BotflowApp = await bootstrap({
      env: { ...shared, DATABASE_URL: directDb, REDIS_URL: REDIS_BASE, LOG_LEVEL: options.logLevel },
      http: false,
      ownAllShards: false,
      timerIntervalMs: 0,
      jobsIntervalMs: 0,
      logger,
    });
    cleanups.push(() => handle.close());

    mkdirSync(options.logDir, { recursive: true });
    const logPath = join(options.logDir, `${options.label}-${run}.log`);
    const log = createWriteStream(logPath);
    cleanups.push(() => new Promise<void>((resolve) => log.end(() => resolve())));
    const child = spawn(process.execPath, ['src/cli.ts', 'start'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '',
        ...shared,
        PORT: String(port),
        BOTFLOW_WORKERS: '2',
        DATABASE_URL: withUrl(directDb, (u) => {
          u.hostname = '127.0.0.1';
          u.port = String(postgres.port);
        }),
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        LOG_LEVEL: options.logLevel,
      },
    });
    trackGroup(child);
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    cleanups.push(() => stopTree(child, 15_000));
    await waitForLine(child, /listening on port \d+ with 2 workers/, 60_000);

    await handle.addBot({
      id: bot.id,
      token: bot.token,
      gateway: {
        kind: 'sandbox',
        api_base: sandbox.url,
        api_key: SANDBOX.apiKey,
        webhook_secret: SANDBOX.webhookSecret,
      },
      pixel: PIXEL,
    });
    const slug = `faults-${run}`;
    await handle.funnel.links.add({ slug, botId: bot.id, campaign: 'faults' });
    await handle.publishFlow(bot.id, await faultsFlow(run));
    const secret = String(fake.callsOf(bot.token, 'setWebhook').at(-1)?.params['secret_token'] ?? '');

    const cluster: Cluster = {
      run,
      url,
      bot,
      secret,
      slug,
      fake,
      sandbox,
      graph,
      db,
      postgres,
      redis,
      logPath,
      workerPids: () => (child.pid === undefined ? [] : childrenOf(child.pid)),
      close: async () => {
        live.delete(cluster);
        await close();
      },
    };
    live.add(cluster);
    return cluster;
  } catch (error) {
    await close();
    throw error;
  }
}

/** The VIP example flow on a compressed clock, its access step pointed at the suite's group. */
export async function faultsFlow(run: string): Promise<unknown> {
  const flow = JSON.parse(await readFile(join(ROOT, 'machines/vip-funnel.flow.json'), 'utf8'));
  for (const step of flow.flow_steps) if (step.delay_seconds !== undefined) step.delay_seconds = 0.3;
  for (const step of flow.flow_steps) if (step.type === 'access') step.config.chat_id = GROUP_CHAT_ID;
  flow.id = `vip-faults-${run}`;
  return flow;
}
