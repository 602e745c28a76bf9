/**
 * Runs one fault end to end: a fresh cluster, buyers walking the demo funnel, the fault injected
 * once a quarter of them are done, then the wait for recovery, the stuck-effects check, a settle, and
 * the measured report with the guarantees it broke. The cluster is always closed (process tree
 * stopped, database dropped), whatever happens.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { driveBuyers, personaOf, type PushedUpdates } from './drive-buyers.ts';
import {
  countGatewayDeliveries,
  emptyHostileResult,
  type HostileResult,
  payBeforeCreated,
  replayLate,
  sendForgeries,
} from './hostile-inputs.ts';
import {
  brokenGuarantees,
  countStuck,
  type Guarantees,
  measureGuarantees,
  settle,
  watchRecovery,
} from './measure-fault.ts';
import { type Cluster, startCluster } from './start-cluster.ts';

export const FAULTS = ['kill_worker', 'postgres_cut', 'redis_cut', 'webhooks_hostile'] as const;
export type FaultName = (typeof FAULTS)[number];

export interface FaultOptions {
  buyers: number;
  cutSeconds: number;
  /** How long after recovery an effect may still be pending before it counts as stuck. */
  stuckSeconds: number;
  logDir: string;
  logLevel: string;
  log(message: string): void;
}

/** One fault's report line. */
export type FaultReport = {
  fault: FaultName;
  ok: boolean;
  failures: string[];
  stuck_effects: number;
  stuck_by_type: Record<string, number>;
  resends_after_crash: number;
  inflight_effects_at_fault: number | null;
  /** kill_worker: effects that could be in flight at a shard handoff (see resendBound). */
  resend_bound: number | null;
  recovery_seconds: number | null;
  first_commit_seconds: number | null;
  cut_seconds: number | null;
  settled: boolean;
  /** Clicks on the tracking link repeated because botflow did not answer the first (see drive-buyers). */
  click_retries?: number;
  hostile: HostileResult | null;
  duration_seconds: number;
  log: string;
  error?: string;
} & Partial<Guarantees>;

/** What the injection tells the report. */
interface Injected {
  /** The recovery moment: the restore, the kill, the end of the hostile input. */
  referenceAt: number;
  /** Effects pending in the outbox just before the fault: the bound of re-sends after a crash. */
  inflightAtFault: number;
  /** kill_worker: when the primary's replacement worker process appeared. */
  replacedAt?: number;
  hostile: HostileResult | null;
}

/** Kills one worker with SIGKILL and waits (at most 30 s) for the primary to fork its replacement. */
async function killWorker(cluster: Cluster, log: FaultOptions['log']): Promise<[number, number]> {
  const before = cluster.workerPids();
  const victim = before[0];
  if (victim === undefined) throw new Error('no worker process to kill');
  process.kill(victim, 'SIGKILL');
  const killedAt = Date.now();
  log(`kill_worker: SIGKILL to worker ${victim}`);
  while (Date.now() < killedAt + 30_000) {
    const now = cluster.workerPids();
    if (now.length >= before.length && !now.includes(victim)) break;
    await sleep(100);
  }
  return [killedAt, Date.now()];
}

/**
 * The most re-sends one crash may cause: a worker's shards change hands twice (to the survivor at the
 * kill, back to the replacement once it is up), and each handoff may re-run the effects then in flight
 * once. So: effects pending at the kill, plus effects created until the hand-back (the replacement
 * appeared, plus 5 s to claim its shards).
 */
async function resendBound(cluster: Cluster, injected: Injected): Promise<number> {
  const { rows } = await cluster.db.query<{ n: string }>(
    `select count(*)::text as n from effects where created_at > to_timestamp($1) and created_at <= to_timestamp($2)`,
    [injected.referenceAt / 1000, (injected.replacedAt! + 5_000) / 1000],
  );
  return injected.inflightAtFault + Number(rows[0]!.n);
}

/** Cuts Postgres or Redis for the configured time; returns when it was restored. */
async function cut(fault: 'postgres_cut' | 'redis_cut', cluster: Cluster, options: FaultOptions) {
  const proxy = fault === 'postgres_cut' ? cluster.postgres : cluster.redis;
  proxy.cut();
  options.log(`${fault}: cut for ${options.cutSeconds} s`);
  await sleep(options.cutSeconds * 1000);
  proxy.restore();
  options.log(`${fault}: restored`);
  return Date.now();
}

/** Injects the fault; resolves at its recovery moment. */
async function inject(
  fault: FaultName,
  cluster: Cluster,
  options: FaultOptions,
  firstUser: () => number,
  hostile: HostileResult | null,
): Promise<Injected> {
  const { rows } = await cluster.db.query<{ n: string }>(
    `select count(*)::text as n from effects where status = 'pending'`,
  );
  const inflightAtFault = Number(rows[0]!.n);
  options.log(`${fault}: ${inflightAtFault} effects pending at the fault`);
  switch (fault) {
    case 'kill_worker': {
      const [killedAt, replacedAt] = await killWorker(cluster, options.log);
      return { referenceAt: killedAt, replacedAt, inflightAtFault, hostile: null };
    }
    case 'postgres_cut':
    case 'redis_cut':
      return { referenceAt: await cut(fault, cluster, options), inflightAtFault, hostile: null };
    case 'webhooks_hostile': {
      const result = hostile ?? emptyHostileResult();
      await sendForgeries(cluster, firstUser(), result);
      options.log(`webhooks_hostile: ${result.sent} forged inputs sent`);
      return { referenceAt: Date.now(), inflightAtFault, hostile: result };
    }
  }
}

/** The guarantees a report breaks, in words. */
function failuresOf(fault: FaultName, r: FaultReport): string[] {
  const failures = brokenGuarantees(r);
  const check = (bad: boolean, what: string) => bad && failures.push(what);
  check(
    (r.paid_not_paid_at_gateway ?? 0) > 0,
    `${r.paid_not_paid_at_gateway} orders paid that the gateway never paid`,
  );
  if (fault === 'kill_worker') {
    check(
      r.resends_after_crash > (r.resend_bound ?? 0),
      `${r.resends_after_crash} re-sends after the crash, above the ${r.resend_bound} effects in flight at its handoffs`,
    );
    check(
      (r.max_resends_per_message ?? 0) > 1,
      `a message was sent ${(r.max_resends_per_message ?? 0) + 1} times for one effect after one crash`,
    );
  } else check((r.duplicate_sends ?? 0) > 0, `${r.duplicate_sends} duplicate sends without a crash`);
  if (r.hostile !== null) {
    check(r.hostile.forged_accepted > 0, `${r.hostile.forged_accepted} forged inputs accepted`);
    check(
      r.hostile.retryable_answers > 0,
      `${r.hostile.retryable_answers} forged or unroutable inputs answered 5xx`,
    );
    check(
      r.hostile.replays_refused > 0,
      `${r.hostile.replays_refused} replays of acknowledged updates refused`,
    );
  }
  if (r.error !== undefined) failures.push(`the run failed: ${r.error}`);
  return failures;
}

/** The longest one fault may take before it is given up: generous, so only a hang reaches it. */
const deadlineMs = (o: FaultOptions) =>
  600_000 + 3 * (o.cutSeconds + o.stuckSeconds) * 1000 + o.buyers * 2_000;

/** Rejects when `work` has not finished within `ms`. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the fault did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one fault and returns its report (never throws: a crash of the run is a failed report). */
export async function runFault(fault: FaultName, options: FaultOptions): Promise<FaultReport> {
  const started = Date.now();
  const report: FaultReport = {
    fault,
    ok: false,
    failures: [],
    stuck_effects: 0,
    stuck_by_type: {},
    resends_after_crash: 0,
    inflight_effects_at_fault: null,
    resend_bound: null,
    recovery_seconds: null,
    first_commit_seconds: null,
    cut_seconds: fault.endsWith('_cut') ? options.cutSeconds : null,
    settled: false,
    hostile: null,
    duration_seconds: 0,
    log: '',
  };
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      label: fault,
      logDir: options.logDir,
      logLevel: options.logLevel,
      webhookRetry: { baseMs: 250, attempts: 10 },
    });
    report.log = cluster.logPath;
    options.log(`${fault}: cluster up at ${cluster.url} (log ${cluster.logPath})`);
    Object.assign(report, await withDeadline(exercise(fault, cluster, options), deadlineMs(options)));
  } catch (error) {
    report.error = (error as Error).message;
  } finally {
    await cluster?.close();
  }
  report.duration_seconds = Math.round((Date.now() - started) / 100) / 10;
  report.failures = failuresOf(fault, report);
  report.ok = report.failures.length === 0;
  return report;
}

/** Starts the buyers; `triggered` resolves once a quarter of them are done (or all have ended). */
function startBuyers(fault: FaultName, cluster: Cluster, options: FaultOptions, pushed: PushedUpdates) {
  const trigger = Math.max(1, Math.floor(options.buyers / 4));
  let fire: () => void = () => {};
  const triggered = new Promise<void>((resolve) => (fire = resolve));
  const buyers = driveBuyers(cluster, {
    buyers: options.buyers,
    concurrency: Math.min(25, Math.max(6, Math.ceil(options.buyers / 4))),
    waitMs: options.cutSeconds * 1000 + 30_000,
    duplicateEvery: fault === 'webhooks_hostile' ? 3 : 0,
    pushed,
    onProgress: (done) => done >= trigger && fire(),
  }).finally(() => fire());
  return { buyers, triggered };
}

/** Counts stuck effects once the stuck window after `referenceAt` has passed. */
async function stuckAfter(cluster: Cluster, referenceAt: number, options: FaultOptions) {
  const wait = referenceAt + options.stuckSeconds * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  return countStuck(cluster.db, options.stuckSeconds * 1000);
}

/** Drives buyers, injects the fault mid-run, and measures. */
async function exercise(
  fault: FaultName,
  cluster: Cluster,
  options: FaultOptions,
): Promise<Partial<FaultReport>> {
  const pushed: PushedUpdates = new Map();
  const direct = new Map<number, number[]>();
  // Bot API calls take about as long as Telegram's: effects are in flight when the fault hits.
  cluster.fake.setLatency(40);
  const hostile = fault === 'webhooks_hostile' ? emptyHostileResult() : null;
  if (hostile !== null) {
    cluster.sandbox.setDelivery({ duplicates: 2, reorder: true, delayMs: 150, concurrent: true });
    payBeforeCreated(cluster, (userId) => personaOf(userId % 1000) === 'payer', hostile);
  }
  const { buyers, triggered } = startBuyers(fault, cluster, options, pushed);
  await triggered;
  const injected = await inject(fault, cluster, options, () => userOf(pushed), hostile);
  const recovery = watchRecovery(cluster.db, injected.referenceAt, options.stuckSeconds * 1000 + 5_000);
  const { outcomes, clickRetries } = await buyers;
  options.log(`${fault}: ${outcomes.length} buyers done`);
  if (hostile !== null)
    await replayLate(cluster, pushed, direct, hostile, Math.max(10, Math.floor(options.buyers / 2)));
  const stuck = await stuckAfter(cluster, hostile === null ? injected.referenceAt : Date.now(), options);
  const recovered = await recovery;
  const settled = await settle(cluster, 30_000);
  await Promise.race([Promise.all([cluster.fake.settled(), cluster.sandbox.settled()]), sleep(20_000)]);
  const guarantees = await measureGuarantees(cluster, { pushed, direct, outcomes });
  if (hostile !== null) countGatewayDeliveries(cluster, hostile);
  return {
    ...guarantees,
    stuck_effects: stuck.stuck,
    stuck_by_type: stuck.byType,
    resends_after_crash: fault === 'kill_worker' ? guarantees.duplicate_sends : 0,
    resend_bound: injected.replacedAt === undefined ? null : await resendBound(cluster, injected),
    inflight_effects_at_fault: injected.inflightAtFault,
    recovery_seconds: recovered.drainSeconds,
    first_commit_seconds: recovered.firstCommitSeconds,
    settled,
    hostile,
    click_retries: clickRetries,
  };
}

/** The user of the first pushed message (a real buyer the forged callbacks claim to come from). */
function userOf(pushed: PushedUpdates): number {
  for (const p of pushed.values()) {
    const from = (p.update['message'] as { from?: { id?: number } } | undefined)?.from?.id;
    if (from !== undefined) return from;
  }
  return 1;
}
