/**
 * The cluster primary: forks the workers, owns the shard table and tells every worker the table and
 * where each worker takes forwarded inputs (workers forward to each other directly, not through
 * here), and restarts a dead worker with exponential backoff. A dead worker's
 * shards go to the live workers at once (each claims them in the database, fencing the dead owner)
 * and come back when its replacement is ready. It runs no flow logic.
 */
import cluster, { type Worker } from 'node:cluster';
import { rmSync } from 'node:fs';
import { BotflowError } from '../errors.ts';
import { createMetricsAggregator } from './aggregate-metrics.ts';
import type { RoutedInput, ToPrimary, ToWorker } from './messages.ts';
import { assignShards, createShardTable, type ShardTable } from './shard-table.ts';
import { computeBackoff } from '../runtime/compute-backoff.ts';

export interface PrimaryOptions {
  workers: number;
  /** Extra environment for the workers (merged over process.env). */
  env?: Record<string, string | undefined>;
  restartBackoff?: { initialMs: number; maxMs: number };
  /** Where the workers' stdout goes: inherited (default), or the primary's stderr (keeps stdout for a report). */
  workerStdout?: 'inherit' | 'stderr';
  onEvent?(event: {
    kind: 'exit' | 'ready' | 'restart';
    slot: number;
    pid?: number;
    code?: number | null;
  }): void;
}

/** A running primary. */
export interface PrimaryHandle {
  table(): ShardTable;
  /** The pid of the worker in each slot (undefined while down). */
  pids(): Array<number | undefined>;
  /** Resolves when every worker is up and has applied the current table. */
  settled(): Promise<void>;
  /** Sends an input into the cluster through the worker in `slot` (tests, benchmarks). */
  injectVia(slot: number, input: RoutedInput): Promise<unknown>;
  stop(timeoutMs?: number): Promise<void>;
}

/** How long a new table waits for the workers to apply the current one (see `rebalance`). */
const TABLE_WAIT_MS = 5000;

/** Starts the primary (call in the primary process only). */
export async function startPrimary(options: PrimaryOptions): Promise<PrimaryHandle> {
  const slots = options.workers;
  const backoff = options.restartBackoff ?? { initialMs: 200, maxMs: 10_000 };
  cluster.setupPrimary({
    exec: new URL('./worker-main.ts', import.meta.url).pathname,
    serialization: 'json',
    ...(options.workerStdout === 'stderr' ? { stdio: ['ignore', 2, 2, 'ipc'] } : {}),
  });

  const workers: Array<Worker | undefined> = Array.from({ length: slots }, () => undefined);
  const live = new Set<number>();
  const applied = new Map<number, number>();
  const failures = Array.from({ length: slots }, () => 0);
  let table = createShardTable(slots);
  let stopping = false;
  let nextId = 1;
  const peers: Array<string | null> = Array.from({ length: slots }, () => null);
  const injects = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; slot: number }>();
  let waiters: Array<() => void> = [];

  const send = (slot: number, message: ToWorker) => {
    const w = workers[slot];
    if (w !== undefined && w.isConnected()) w.send(message);
  };
  const isSettled = () =>
    live.size === slots && [...live].every((slot) => applied.get(slot) === table.version);
  const checkSettled = () => {
    if (!isSettled()) return;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };
  const tableFor = (slot: number): ToWorker => ({ kind: 'table', table, slot, peers });
  /** The live workers the current table went to. */
  let sentTo = new Set<number>();
  let deferred: NodeJS.Timeout | undefined;
  /** Whether a live worker the current table went to has not applied it yet (its claim may be running). */
  const claiming = () => [...sentTo].some((slot) => live.has(slot) && applied.get(slot) !== table.version);
  /** Reassigns shards for the live workers and tells every one (peers change even when shards do not). */
  const reassign = () => {
    clearTimeout(deferred);
    deferred = undefined;
    table = assignShards(table, slots, live);
    sentTo = new Set(live);
    for (const slot of live) send(slot, tableFor(slot));
  };
  /**
   * Reassigns once every live worker has applied the current table, or after TABLE_WAIT_MS: a worker
   * still claiming an older table's shards could otherwise bump the epochs of shards a newer table gave
   * another worker after that worker claimed them, fencing it out of its own shards (every commit
   * refused, every input STALE_OWNER) until the next table: at start, the second worker's table can
   * come while the first one still claims all 1,024 shards. A claim landing late anyway (a dead
   * worker's statement) is claimed back by its worker (`reclaimStale` in run-worker.ts).
   */
  const rebalance = () => {
    if (!claiming()) return reassign();
    deferred ??= setTimeout(reassign, TABLE_WAIT_MS);
    deferred.unref();
  };
  const aggregator = createMetricsAggregator({ live: () => live, send });

  function fork(slot: number): void {
    const worker = cluster.fork({ ...options.env, BOTFLOW_WORKER_SLOT: String(slot) });
    workers[slot] = worker;
    const startedAt = Date.now();
    worker.on('message', (message: ToPrimary) => {
      switch (message.kind) {
        case 'ready':
          live.add(slot);
          peers[slot] = message.peer;
          options.onEvent?.({ kind: 'ready', slot, pid: worker.process.pid });
          rebalance();
          break;
        case 'table-applied':
          applied.set(slot, message.version);
          if (deferred !== undefined && !claiming()) reassign();
          checkSettled();
          break;
        case 'metrics-request':
          aggregator.request(slot, message.id);
          break;
        case 'metrics-part':
          aggregator.part(slot, message.id, message.metrics);
          break;
        case 'inject-reply': {
          const waiter = injects.get(message.id);
          if (waiter === undefined) break;
          injects.delete(message.id);
          if (message.ok) waiter.resolve(message.result);
          else
            waiter.reject(
              new BotflowError(
                (message.error?.code ?? 'INTERNAL') as BotflowError['code'],
                message.error?.message ?? '',
              ),
            );
          break;
        }
      }
    });
    worker.on('exit', (code) => {
      workers[slot] = undefined;
      live.delete(slot);
      // A killed worker could not remove its socket file: the primary does.
      if (peers[slot] !== null) rmSync(peers[slot]!, { force: true });
      peers[slot] = null;
      applied.delete(slot);
      aggregator.forget(slot);
      options.onEvent?.({ kind: 'exit', slot, pid: worker.process.pid, code });
      for (const [id, waiter] of injects) {
        if (waiter.slot !== slot) continue;
        injects.delete(id);
        waiter.reject(new BotflowError('STALE_OWNER', 'the worker died'));
      }
      if (stopping) return;
      rebalance();
      failures[slot] = Date.now() - startedAt > 30_000 ? 1 : failures[slot]! + 1;
      const delay = computeBackoff(failures[slot]!, backoff.initialMs, backoff.maxMs);
      options.onEvent?.({ kind: 'restart', slot });
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay).unref();
    });
  }

  for (let slot = 0; slot < slots; slot++) fork(slot);

  const handle: PrimaryHandle = {
    table: () => table,
    pids: () => workers.map((w) => w?.process.pid),
    settled: () => (isSettled() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    injectVia(slot, input) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (!live.has(slot)) {
          reject(new BotflowError('STALE_OWNER', `worker ${slot} is down`));
          return;
        }
        injects.set(id, { resolve, reject, slot });
        send(slot, { kind: 'inject', id, input });
      });
    },
    async stop(timeoutMs = 10_000) {
      stopping = true;
      clearTimeout(deferred);
      const exits = workers.flatMap((w) => (w === undefined ? [] : [new Promise((r) => w.once('exit', r))]));
      for (let slot = 0; slot < slots; slot++) send(slot, { kind: 'drain' });
      const timer = setTimeout(() => {
        for (const w of workers) w?.process.kill('SIGKILL');
      }, timeoutMs);
      await Promise.all(exits);
      clearTimeout(timer);
    },
  };
  return handle;
}
