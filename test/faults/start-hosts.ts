/**
 * The hosts scenario's system under test: N botflow hosts (`botflow start`, each its own process tree)
 * in their own network namespaces (test/support/test-hosts.ts), in broker mode, sharing one Postgres
 * database, one Redis key prefix and one RabbitMQ vhost. Each host reaches them only through its own
 * TCP proxies on the root end of its veth, so the harness could cut one host's links. The stand-ins
 * (fake Bot API, sandbox gateway, fake Graph API) and the front door (the balancer every webhook and
 * click goes through, round-robin over the running hosts) are offered on an address all hosts reach.
 * An in-process handle registers the bot and flow on direct connections; the measurements read the
 * database directly.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { freePort } from '../../src/sim/free-port.ts';
import { startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { startFakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import { startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { type FrontDoor, startFrontDoor } from '../support/front-door.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { createTestHosts, type TestHost } from '../support/test-hosts.ts';
import {
  admin,
  childrenOf,
  deleteKeys,
  faultsFlow,
  type FunnelUnderTest,
  PG_BASE,
  PIXEL,
  REDIS_BASE,
  SANDBOX,
  stopTree,
  trackGroup,
  trackLive,
  waitForLine,
  withUrl,
} from './start-cluster.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const AMQP_BASE = process.env['RABBITMQ_TEST_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const RABBITMQCTL = process.env['RABBITMQCTL'] ?? 'rabbitmqctl';
const run$ = promisify(execFile);

/** One botflow host: its machine, its links, and its process tree while it runs. */
export interface BotflowHost {
  index: number;
  /** Where the front door reaches it. */
  url: string;
  netns: string | null;
  /** Its proxies to Postgres, Redis and RabbitMQ (cut them to cut the host off). */
  links: TcpProxy[];
  logPath: string;
  running(): boolean;
  /** The primary's pid and its workers' (empty when not running). */
  pids(): number[];
  /** Starts its `botflow start` and resolves once it listens. */
  start(): Promise<void>;
  /** Drains and stops it (SIGTERM, SIGKILL after 15 s). */
  stop(): Promise<void>;
  /** `kill -9` of its whole process tree; returns when it was sent (epoch ms). */
  kill(): number;
}

/** The running hosts scenario. */
export interface Hosts extends FunnelUnderTest {
  run: string;
  isolation: 'netns' | 'processes';
  /** Why namespaces were refused (isolation `processes`). */
  refused: string | null;
  hosts: BotflowHost[];
  door: FrontDoor;
  /** The version of the published flow (its buttons carry it). */
  flowVersion: number;
  /** Starts these hosts (the others keep their state), waits until they listen, and rotates over the running ones. */
  start(indices: number[]): Promise<void>;
  /** Drains and stops these hosts (SIGTERM). */
  stop(indices: number[]): Promise<void>;
  /** `kill -9` of a host's whole process tree; returns when it was sent (epoch ms). */
  kill(index: number): number;
  /** Stops everything and drops the database, the Redis keys and the vhost; safe to call twice. */
  close(): Promise<void>;
}

export interface HostsOptions {
  count: number;
  /** Plain processes on loopback instead of network namespaces. */
  processes?: boolean;
  workersPerHost: number;
  label: string;
  logDir: string;
  logLevel: string;
  webhookRetry: { baseMs: number; attempts: number };
}

/** Runs `rabbitmqctl` with these arguments. */
async function rabbitmqctl(args: string[]): Promise<void> {
  await run$(RABBITMQCTL, args, { timeout: 60_000 });
}

/** A vhost of its own on the shared RabbitMQ (guest may use it); returns its drop. */
async function createVhost(vhost: string): Promise<() => Promise<unknown>> {
  await rabbitmqctl(['add_vhost', vhost]);
  const drop = () => rabbitmqctl(['delete_vhost', vhost]);
  try {
    await rabbitmqctl(['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  } catch (error) {
    await drop().catch(() => {});
    throw error;
  }
  return drop;
}

type Cleanups = ReturnType<typeof createCleanups>;

/** Cleanup steps, run last-first; `close` runs them once. */
function createCleanups() {
  const steps: Array<() => Promise<unknown>> = [];
  let closed: Promise<void> | undefined;
  return {
    push: (step: () => Promise<unknown>) => steps.push(step),
    close: () =>
      (closed ??= (async () => {
        for (const step of steps.reverse()) await step().catch(() => {});
      })()),
  };
}

/** Offers a loopback server on `host` (an address the test hosts reach) through a proxy. */
async function offer(url: string, host: string, cleanups: Cleanups) {
  const target = new URL(url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) }, host);
  cleanups.push(() => proxy.close());
  return `${target.protocol}//${host}:${proxy.port}`;
}

/** The stand-ins and the front door, on loopback and offered on `shared` (an address every host reaches). */
async function startStandIns(shared: string, options: HostsOptions, cleanups: Cleanups) {
  const retry = { retryBaseMs: options.webhookRetry.baseMs, maxAttempts: options.webhookRetry.attempts };
  const fake = await startFakeBotApi(retry);
  cleanups.push(() => fake.close());
  const sandbox = await startSandboxGateway({ ...SANDBOX, ...retry });
  cleanups.push(() => sandbox.close());
  const graph = await startFakeGraphApi({ tokens: [PIXEL.access_token] });
  cleanups.push(() => graph.close());
  const door = await startFrontDoor(shared);
  cleanups.push(() => door.close());
  const offered = {
    fake: await offer(fake.url, shared, cleanups),
    sandbox: await offer(sandbox.url, shared, cleanups),
    graph: await offer(graph.url, shared, cleanups),
  };
  return { fake, sandbox, graph, door, offered };
}

/** The run's database, vhost and Redis prefix (dropped on cleanup), and a direct pool on the database. */
async function createStores(run: string, cleanups: Cleanups) {
  const names = { dbName: `botflow_hosts_${run}`, vhost: `botflow-hosts-${run}`, prefix: `hosts-${run}` };
  const [dropVhost] = await Promise.all([
    createVhost(names.vhost),
    admin(`create database "${names.dbName}"`).then(() =>
      cleanups.push(() => admin(`drop database if exists "${names.dbName}" with (force)`)),
    ),
  ]);
  cleanups.push(dropVhost);
  cleanups.push(() => deleteKeys(names.prefix));
  const directDb = withUrl(PG_BASE, (u) => (u.pathname = `/${names.dbName}`));
  const db = new pg.Pool({ connectionString: directDb, max: 4, connectionTimeoutMillis: 10_000 });
  cleanups.push(() => db.end());
  // An idle client's error (its connection closed under it) is the pool's 'error' event: unheard, it
  // would crash the suite with no report. The next query opens a fresh connection.
  db.on('error', (error) =>
    process.stderr.write(`[faults] the suite's own Postgres pool: ${error.message}\n`),
  );
  return { ...names, directDb, db };
}

/** Registers the bot, its tracking link and the flow through an in-process handle on the direct database. */
async function registerFunnel(
  o: { run: string; directDb: string; env: Record<string, string>; logLevel: string; cleanups: Cleanups },
  stand: Awaited<ReturnType<typeof startStandIns>>,
) {
  const bot = {
    id: `hosts-${o.run}`,
    token: '7100000002:AAhosts-token-for-the-fake-bot-api',
    username: `hosts_${o.run}_bot`,
    telegramId: 7100000002,
  };
  stand.fake.addBot({ token: bot.token, id: bot.telegramId, username: bot.username });
  // The handle migrates the fresh database and registers; it owns no shard and runs no loop.
  const handle: BotflowApp = await bootstrap({
    env: { ...o.env, TELEGRAM_API_ROOT: stand.fake.url, DATABASE_URL: o.directDb, REDIS_URL: REDIS_BASE },
    http: false,
    ownAllShards: false,
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    logger: pino({ level: o.logLevel }, pino.destination(2)),
  });
  o.cleanups.push(() => handle.close());
  const gateway = { api_key: SANDBOX.apiKey, webhook_secret: SANDBOX.webhookSecret };
  await handle.addBot({
    id: bot.id,
    token: bot.token,
    gateway: { kind: 'sandbox', api_base: stand.offered.sandbox, ...gateway },
    pixel: PIXEL,
  });
  const slug = `hosts-${o.run}`;
  await handle.funnel.links.add({ slug, botId: bot.id, campaign: 'hosts' });
  const flowVersion = await handle.publishFlow(bot.id, await faultsFlow(o.run));
  const secret = String(stand.fake.callsOf(bot.token, 'setWebhook').at(-1)?.params['secret_token'] ?? '');
  return { bot, slug, flowVersion, secret };
}

/** Starts everything but the hosts themselves (see `Hosts.start`). */
export async function startHosts(options: HostsOptions): Promise<Hosts> {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const cleanups = createCleanups();
  const untrack = trackLive({ close: () => cleanups.close() });
  cleanups.push(async () => untrack());
  try {
    const machines = createTestHosts(options.count, { processes: options.processes === true });
    cleanups.push(async () => machines.close());
    const stores = await createStores(run, cleanups);
    const stand = await startStandIns(machines.shared, options, cleanups);
    const common = {
      BOTFLOW_PUBLIC_URL: stand.door.url,
      META_GRAPH_URL: stand.offered.graph,
      BOTFLOW_TRUST_PROXY: 'true',
      BOTFLOW_REDIS_PREFIX: stores.prefix,
      BOTFLOW_DATA_DIR: join(tmpdir(), `botflow-hosts-${run}`),
      LOG_LEVEL: options.logLevel,
    };
    const funnel = await registerFunnel(
      { ...options, run, directDb: stores.directDb, env: common, cleanups },
      stand,
    );
    mkdirSync(options.logDir, { recursive: true });
    const hosts: BotflowHost[] = [];
    for (const machine of machines.hosts) {
      const env = { ...common, TELEGRAM_API_ROOT: stand.offered.fake };
      hosts.push(
        await prepareHost(machine, {
          ...options,
          run,
          env,
          dbName: stores.dbName,
          vhost: stores.vhost,
          cleanups,
        }),
      );
    }
    const rotate = () => stand.door.setBackends(hosts.filter((h) => h.running()).map((h) => h.url));
    return {
      ...funnel,
      run,
      isolation: machines.isolation,
      refused: machines.refused,
      hosts,
      door: stand.door,
      url: stand.door.url,
      fake: stand.fake,
      sandbox: stand.sandbox,
      graph: stand.graph,
      db: stores.db,
      async start(indices) {
        const started = await Promise.allSettled(indices.map((i) => hosts[i]!.start()));
        rotate();
        for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
      },
      async stop(indices) {
        await Promise.all(indices.map((i) => hosts[i]!.stop()));
        rotate();
      },
      kill: (index) => hosts[index]!.kill(),
      close: () => cleanups.close(),
    };
  } catch (error) {
    await cleanups.close();
    throw error;
  }
}

/** The environment of the host on `machine`: the run's stores through its own links. */
function hostEnv(machine: TestHost, port: number, links: TcpProxy[], o: HostOptions): Record<string, string> {
  const via = (base: string, proxy: TcpProxy, path: string) =>
    withUrl(base, (u) => {
      u.hostname = machine.gateway;
      u.port = String(proxy.port);
      u.pathname = path;
    });
  return {
    PATH: process.env['PATH'] ?? '',
    ...passThrough(),
    ...o.env,
    PORT: String(port),
    HOST: machine.address,
    BOTFLOW_WORKERS: String(o.workersPerHost),
    DATABASE_URL: via(PG_BASE, links[0]!, `/${o.dbName}`),
    REDIS_URL: via(REDIS_BASE, links[1]!, '/'),
    BOTFLOW_BROKER_URL: via(AMQP_BASE, links[2]!, `/${encodeURIComponent(o.vhost)}`),
  };
}

type HostOptions = HostsOptions & {
  run: string;
  env: Record<string, string>;
  dbName: string;
  vhost: string;
  cleanups: Cleanups;
};

/** The host on `machine`: its links (proxies on its veth to Postgres, Redis, RabbitMQ) and its `botflow start`. */
async function prepareHost(machine: TestHost, o: HostOptions): Promise<BotflowHost> {
  const links: TcpProxy[] = [];
  for (const [base, port] of [
    [PG_BASE, '5432'],
    [REDIS_BASE, '6379'],
    [AMQP_BASE, '5672'],
  ] as const) {
    const u = new URL(base);
    const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || port) }, machine.gateway);
    o.cleanups.push(() => proxy.close());
    links.push(proxy);
  }
  // Each namespace has a port space of its own; plain processes share loopback's.
  const port = machine.netns === null ? await freePort() : 3000;
  const env = hostEnv(machine, port, links, o);
  const logPath = join(o.logDir, `${o.label}-${o.run}-host${machine.index + 1}.log`);
  const log = createWriteStream(logPath);
  o.cleanups.push(() => new Promise<void>((resolve) => log.end(() => resolve())));
  let child: ChildProcess | undefined;
  o.cleanups.push(async () => child !== undefined && (await stopTree(child, 15_000)));
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    index: machine.index,
    url: `http://${machine.address}:${port}`,
    netns: machine.netns,
    links,
    logPath,
    running,
    pids: () => (running() ? [child!.pid!, ...childrenOf(child!.pid!)] : []),
    async start() {
      const { file, args } = machine.command([process.execPath, 'src/cli.ts', 'start']);
      child = spawn(file, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
      trackGroup(child);
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      await waitForLine(child, /botflow listening on/, 60_000).catch(async (error: unknown) => {
        await stopTree(child!, 5_000);
        throw new Error(`host ${machine.index + 1}: ${(error as Error).message} (log ${logPath})`, {
          cause: error,
        });
      });
    },
    async stop() {
      if (child !== undefined) await stopTree(child, 15_000);
    },
    kill() {
      process.kill(-child!.pid!, 'SIGKILL');
      return Date.now();
    },
  };
}

/** Broker tuning a caller set for the hosts (BOTFLOW_BROKER_* but the URL, which is the run's own). */
function passThrough(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[0].startsWith('BOTFLOW_BROKER_') && e[0] !== 'BOTFLOW_BROKER_URL' && e[1] !== undefined,
    ),
  );
}
