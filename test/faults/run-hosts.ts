/**
 * The hosts scenario (`npm run faults -- hosts`): botflow on several hosts in broker mode, each in its
 * own network namespace, sharing Postgres, Redis and RabbitMQ. First the same webhook load through 1,
 * 2, ... N hosts (fresh hosts each time) for updates/s by hosts; then the demo's buyers through all N
 * (each webhook and click round-robin over the hosts), `kill -9` of the host owning the most shards
 * once a quarter of the buyers are done, and the fault suite's measurements: loss, duplicates, stuck
 * effects, and how long until the dead host's shards were claimed by a live one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuBetween, snapshotCpu } from '../../benchmarks/lib/process-cpu.ts';
import { SHARD_COUNT } from '../../src/runtime/shard.ts';
import { driveBuyers, type PushedUpdates } from './drive-buyers.ts';
import { driveLoad, type LoadResult } from './drive-load.ts';
import {
  brokenGuarantees,
  countStuck,
  type Failover,
  type Guarantees,
  measureGuarantees,
  settle,
  shardsByHost,
  shardsOwnedBy,
  watchFailover,
  watchRecovery,
} from './measure-fault.ts';
import { type Hosts, startHosts } from './start-hosts.ts';

export interface HostsOptions {
  hosts: number;
  /** Plain processes on loopback instead of network namespaces. */
  processes: boolean;
  workersPerHost: number;
  buyers: number;
  /** Users of the throughput load per host count (4 updates each); 0 skips it. */
  loadUsers: number;
  stuckSeconds: number;
  /** The longest failover that holds. */
  failoverLimitSeconds: number;
  /** Seconds RabbitMQ is cut off every live host once half the buyers are done (0: not cut). */
  brokerCutSeconds: number;
  logDir: string;
  logLevel: string;
  log(message: string): void;
}

/** The scenario's one JSON object. */
export type HostsReport = {
  scenario: 'hosts';
  ok: boolean;
  failures: string[];
  hosts: number;
  workers_per_host: number;
  isolation: 'netns' | 'processes' | null;
  /** Why namespaces were refused, when isolation is `processes`. */
  isolation_refused?: string | null;
  failover_seconds: number | null;
  failover_limit_seconds: number;
  every_shard_served: boolean;
  /** The killed host (1-based), its shards at the kill, and those a live host claimed after it. */
  killed_host: number | null;
  killed_host_shards: number;
  moved_shards: number;
  /** Shard epoch rows per host, just before the kill and at the end. */
  shards_by_host_at_kill: number[];
  shards_by_host_at_end: number[];
  updates_per_second_by_hosts: Record<string, number>;
  load_by_hosts: Record<string, LoadResult & { cpu_ms_per_update: number; shards_by_host: number[] }>;
  /** The broker cut, when asked: its length, Telegram deliveries refused (5xx) from its start, the recovery after it. */
  broker_cut: {
    seconds: number;
    deliveries_refused: number;
    first_commit_seconds: number | null;
    recovery_seconds: number | null;
  } | null;
  /** Requests the front door handed each host during the buyers' run. */
  requests_by_host: number[];
  stuck_effects: number;
  stuck_by_type: Record<string, number>;
  recovery_seconds: number | null;
  first_commit_seconds: number | null;
  settled: boolean;
  click_retries: number;
  duration_seconds: number;
  logs: string[];
  error?: string;
} & Partial<Guarantees>;

/** The guarantees a report breaks, in words. */
function failuresOf(r: HostsReport): string[] {
  const failures = brokenGuarantees(r);
  const check = (bad: boolean, what: string) => bad && failures.push(what);
  check(
    !r.every_shard_served,
    `${r.killed_host_shards - r.moved_shards} of the dead host's shards not served again`,
  );
  check(r.killed_host_shards === 0, 'the killed host owned no shard: the failover was not exercised');
  check(
    r.failover_seconds === null || r.failover_seconds > r.failover_limit_seconds,
    `failover took ${r.failover_seconds ?? 'forever'} s (limit ${r.failover_limit_seconds} s)`,
  );
  // One host's death is one handoff of its shards: each effect then in flight may be re-sent once.
  check(
    (r.max_resends_per_message ?? 0) > 1,
    `a message was sent ${(r.max_resends_per_message ?? 0) + 1} times for one effect after one kill`,
  );
  check((r.acknowledged ?? 0) === 0, 'no update was acknowledged');
  if (r.error !== undefined) failures.push(`the run failed: ${r.error}`);
  return failures;
}

/** An empty report, filled as the run goes. */
function emptyReport(options: HostsOptions): HostsReport {
  return {
    scenario: 'hosts',
    ok: false,
    failures: [],
    hosts: options.hosts,
    workers_per_host: options.workersPerHost,
    isolation: null,
    failover_seconds: null,
    failover_limit_seconds: options.failoverLimitSeconds,
    every_shard_served: false,
    killed_host: null,
    killed_host_shards: 0,
    moved_shards: 0,
    shards_by_host_at_kill: [],
    shards_by_host_at_end: [],
    updates_per_second_by_hosts: {},
    load_by_hosts: {},
    requests_by_host: [],
    broker_cut: null,
    stuck_effects: 0,
    stuck_by_type: {},
    recovery_seconds: null,
    first_commit_seconds: null,
    settled: false,
    click_retries: 0,
    duration_seconds: 0,
    logs: [],
  };
}

/** Runs the scenario and returns its report (never throws: a crash of the run is a failed report). */
export async function runHosts(options: HostsOptions): Promise<HostsReport> {
  const started = Date.now();
  const report = emptyReport(options);
  let system: Hosts | undefined;
  try {
    system = await startHosts({
      count: options.hosts,
      processes: options.processes,
      workersPerHost: options.workersPerHost,
      label: 'hosts',
      logDir: options.logDir,
      logLevel: options.logLevel,
      webhookRetry: { baseMs: 250, attempts: 10 },
    });
    report.isolation = system.isolation;
    if (system.refused !== null) report.isolation_refused = system.refused;
    report.logs = system.hosts.map((h) => h.logPath);
    options.log(`hosts: ${options.hosts} hosts (${system.isolation}), front door ${system.url}`);
    if (options.loadUsers > 0) await measureThroughput(system, options, report);
    else await system.start(system.hosts.map((h) => h.index));
    options.log(`hosts: ${options.hosts} hosts listening`);
    await awaitSpread(
      system,
      system.hosts.map((h) => h.index),
      options,
    );
    await exercise(system, options, report);
  } catch (error) {
    report.error = (error as Error).stack ?? String(error);
  } finally {
    await system?.close();
  }
  report.duration_seconds = Math.round((Date.now() - started) / 100) / 10;
  report.failures = failuresOf(report);
  report.ok = report.failures.length === 0;
  return report;
}

const pidsByHost = (system: Hosts) => system.hosts.map((h) => h.pids());

/**
 * Waits (at most 45 s) until every running host holds at least half its even share of the shards
 * and the shares did not change for 4 s: broker mode hands partitions over every ~3 s until each
 * worker has its share.
 */
async function awaitSpread(system: Hosts, running: number[], options: HostsOptions): Promise<void> {
  const deadline = Date.now() + 45_000;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const byHost = await shardsByHost(system.db, pidsByHost(system));
    const now = byHost.join('/');
    if (now !== last) [last, stableSince] = [now, Date.now()];
    const even = SHARD_COUNT / running.length;
    const spread = running.every((i) => byHost[i]! >= even / 2) && Date.now() - stableSince >= 4_000;
    if (spread || Date.now() > deadline) {
      options.log(`hosts: shards by host ${now}${spread ? '' : ' (not spread within 45 s)'}`);
      return;
    }
    await sleep(250);
  }
}

/** The same load through 1, 2, ... N fresh hosts; leaves all N running. */
async function measureThroughput(system: Hosts, options: HostsOptions, report: HostsReport) {
  const all = system.hosts.map((h) => h.index);
  for (let count = 1; count <= options.hosts; count++) {
    const some = all.slice(0, count);
    await system.start(some);
    // The partitions spread over the hosts first; then a few users unmeasured (connections, JIT,
    // the compiled flow), as the webhook benchmark does.
    await awaitSpread(system, some, options);
    await driveLoad(system, {
      firstUser: 8_500_000_000 + count * 1_000_000,
      firstUpdateId: 950_000_000 + count * 1_000_000,
      users: Math.min(16, options.loadUsers),
      concurrency: 16,
    });
    const cpuBefore = snapshotCpu(pidsByHost(system).flat());
    const result = await driveLoad(system, {
      firstUser: 8_000_000_000 + count * 1_000_000,
      firstUpdateId: 900_000_000 + count * 1_000_000,
      users: options.loadUsers,
      concurrency: 16,
    });
    const shards = await shardsByHost(system.db, pidsByHost(system));
    // The load's effects finish before its hosts stop, so the kill's re-sends are the kill's alone.
    await settle(system, 30_000);
    // CPU of the hosts' processes (/proc) for the load and its effects: less moved by a noisy machine.
    const cpu = cpuBetween(cpuBefore, snapshotCpu(pidsByHost(system).flat()));
    const cpuPerUpdate = Math.round((cpu / Math.max(1, result.committed)) * 100) / 100;
    report.load_by_hosts[String(count)] = {
      ...result,
      cpu_ms_per_update: cpuPerUpdate,
      shards_by_host: shards,
    };
    report.updates_per_second_by_hosts[String(count)] = result.updates_per_second;
    options.log(
      `hosts: ${count} host(s): ${result.updates_per_second} updates/s, ${cpuPerUpdate} CPU ms per update, shards by host ${shards.join('/')}`,
    );
    if (count < options.hosts) await system.stop(some);
  }
}

/** Kills the host owning the most shards; returns it, its shards and the kill time. */
async function killBusiestHost(system: Hosts, options: HostsOptions, report: HostsReport) {
  const pids = pidsByHost(system);
  report.shards_by_host_at_kill = await shardsByHost(system.db, pids);
  const victim = report.shards_by_host_at_kill.indexOf(Math.max(...report.shards_by_host_at_kill));
  const shards = await shardsOwnedBy(system.db, pids[victim]!);
  const killedAt = system.kill(victim);
  report.killed_host = victim + 1;
  report.killed_host_shards = shards.length;
  options.log(
    `hosts: kill -9 of host ${victim + 1} (pids ${pids[victim]!.join(',')}, ${shards.length} shards)`,
  );
  return { victim, shards, killedAt };
}

/** Starts the buyers; `quarter` and `half` resolve once that many of them are done (or all ended). */
function startBuyers(system: Hosts, options: HostsOptions, pushed: PushedUpdates) {
  const marks = [Math.max(1, Math.floor(options.buyers / 4)), Math.max(1, Math.floor(options.buyers / 2))];
  const fire: Array<() => void> = [];
  const [quarter, half] = marks.map(() => new Promise<void>((resolve) => fire.push(resolve)));
  const buyers = driveBuyers(system, {
    buyers: options.buyers,
    concurrency: Math.min(25, Math.max(6, Math.ceil(options.buyers / 4))),
    waitMs: 60_000,
    pushed,
    onProgress: (done) => {
      options.log(`hosts: buyer ${done}/${options.buyers} done`);
      marks.forEach((mark, i) => done >= mark && fire[i]!());
    },
  }).finally(() => fire.forEach((f) => f()));
  return { buyers, quarter: quarter!, half: half! };
}

/**
 * RabbitMQ unreachable from every live host (their links to it cut) for `seconds`, once `when`
 * resolves; then the Telegram deliveries refused meanwhile and the recovery after the restore.
 */
async function cutBroker(system: Hosts, victim: number, options: HostsOptions, when: Promise<void>) {
  await when;
  const links = system.hosts.filter((h) => h.index !== victim).map((h) => h.links[2]!);
  const from = system.fake.deliveries.length;
  for (const link of links) link.cut();
  options.log(`hosts: RabbitMQ cut off every live host for ${options.brokerCutSeconds} s`);
  await sleep(options.brokerCutSeconds * 1000);
  for (const link of links) link.restore();
  const restoredAt = Date.now();
  options.log('hosts: RabbitMQ restored');
  const recovered = await watchRecovery(system.db, restoredAt, options.stuckSeconds * 1000 + 5_000);
  const refused = system.fake.deliveries
    .slice(from)
    .filter((d) => typeof d.status !== 'number' || d.status >= 500);
  return {
    restoredAt,
    report: {
      seconds: options.brokerCutSeconds,
      deliveries_refused: refused.length,
      first_commit_seconds: recovered.firstCommitSeconds,
      recovery_seconds: recovered.drainSeconds,
    },
  };
}

/** Whether the dead host's shards all moved and every shard row is held by a live host's process. */
async function everyShardServed(system: Hosts, shards: readonly number[], moved: Failover) {
  const { rows } = await system.db.query<{ n: string }>(`select count(*)::text as n from shard_epochs`);
  const held = await shardsByHost(system.db, pidsByHost(system));
  return shards.length > 0 && moved.unmoved === 0 && held.reduce((n, c) => n + c, 0) === Number(rows[0]!.n);
}

/** Buyers through all hosts, a host killed mid-run (and the broker cut, if asked), and the measurements. */
async function exercise(system: Hosts, options: HostsOptions, report: HostsReport) {
  const pushed: PushedUpdates = new Map();
  system.fake.setLatency(40);
  const forwardedBefore = new Map(system.door.forwarded);
  const { buyers, quarter, half } = startBuyers(system, options, pushed);
  await quarter;
  const { victim, shards, killedAt } = await killBusiestHost(system, options, report);
  const livePids = () => system.hosts.filter((h) => h.index !== victim).flatMap((h) => h.pids());
  const failover: Promise<Failover> = watchFailover(system.db, shards, killedAt, livePids, 60_000);
  const recovery = watchRecovery(system.db, killedAt, options.stuckSeconds * 1000 + 5_000);
  const cut = options.brokerCutSeconds > 0 ? cutBroker(system, victim, options, half) : null;
  const { outcomes, clickRetries } = await buyers;
  options.log(`hosts: ${outcomes.length} buyers done`);
  const moved = await failover;
  report.failover_seconds = moved.seconds;
  report.moved_shards = moved.moved;
  report.every_shard_served = await everyShardServed(system, shards, moved);
  const broker = await cut;
  report.broker_cut = broker?.report ?? null;
  const wait = Math.max(killedAt, broker?.restoredAt ?? 0) + options.stuckSeconds * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  const stuck = await countStuck(system.db, options.stuckSeconds * 1000);
  const recovered = await recovery;
  report.settled = await settle(system, 30_000);
  await Promise.race([Promise.all([system.fake.settled(), system.sandbox.settled()]), sleep(20_000)]);
  Object.assign(report, await measureGuarantees(system, { pushed, direct: new Map(), outcomes }));
  report.shards_by_host_at_end = await shardsByHost(system.db, pidsByHost(system));
  report.requests_by_host = system.hosts.map(
    (h) => (system.door.forwarded.get(h.url) ?? 0) - (forwardedBefore.get(h.url) ?? 0),
  );
  report.stuck_effects = stuck.stuck;
  report.stuck_by_type = stuck.byType;
  report.recovery_seconds = recovered.drainSeconds;
  report.first_commit_seconds = recovered.firstCommitSeconds;
  report.click_retries = clickRetries;
}
