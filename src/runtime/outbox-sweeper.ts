/**
 * Re-reads the effects outbox, the source of truth, and hands the runner what is due in this worker's
 * shards: at start and on every shard claim, every `intervalMs`, and at once when the store answers
 * again after an outage (probing every `outageIntervalMs` meanwhile). So an effect whose run or record
 * was lost to a store failure runs without a restart; the runner skips what it already ran.
 */
import type { KeyedEffect } from './conversation-host.ts';
import type { EffectRunner } from './effect-runner.ts';

export interface OutboxSweeperOptions {
  /** Pending effects of `shards` due at `now`, oldest first, at most `limit`. */
  read(shards: readonly number[], now: number, limit: number): Promise<KeyedEffect[]>;
  runner: Pick<EffectRunner, 'recover' | 'checkpoint' | 'wake'>;
  shards(): readonly number[];
  now(): number;
  /** Period of the sweep (default 5 s); 0: no loop (callers use `sweepOnce`). */
  intervalMs?: number;
  /** Period of the probe while the store is down (default 1 s). */
  outageIntervalMs?: number;
  /** Most effects read per sweep (default 2,000). */
  batch?: number;
  /** Called once when an outage begins (a failed read, or `noticeOutage`). */
  onOutage?(error: unknown): void;
  /** Called once when a read succeeds after an outage. */
  onRecovered?(): void;
}

/** A running sweeper. */
export interface OutboxSweeper {
  /** Reads the outbox once (after any sweep in progress) and queues what is due; resolves with the count read. */
  sweepOnce(): Promise<number>;
  /** Sweeps within `ms` (sooner if one is due sooner); without a loop, after `ms` all the same. */
  sweepIn(ms: number): void;
  /** Something else met a store outage: probe often until a read succeeds, then sweep and wake the runner. */
  noticeOutage(error: unknown): void;
  /** Stops the loop; resolves once a sweep in progress has finished. */
  stop(): Promise<void>;
}

/** Starts the sweeper's loop (its first sweep is the caller's, after it owns its shards). */
export function startOutboxSweeper(options: OutboxSweeperOptions): OutboxSweeper {
  const intervalMs = options.intervalMs ?? 5000;
  const outageMs = options.outageIntervalMs ?? 1000;
  let timer: NodeJS.Timeout | null = null;
  let last: Promise<unknown> = Promise.resolve();
  let down = false;
  let stopped = false;

  function enterOutage(error: unknown): void {
    if (down) return;
    down = true;
    options.onOutage?.(error);
    arm(outageMs);
  }

  async function sweep(): Promise<number> {
    const since = options.runner.checkpoint();
    let found: KeyedEffect[];
    try {
      found = await options.read(options.shards(), options.now(), options.batch ?? 2000);
    } catch (error) {
      enterOutage(error);
      throw error;
    }
    options.runner.recover(found, since);
    if (down) {
      down = false;
      options.onRecovered?.();
      options.runner.wake();
    }
    return found.length;
  }

  function sweepOnce(): Promise<number> {
    const next = last.catch(() => {}).then(sweep);
    last = next;
    return next;
  }

  let dueAt = Infinity;
  function arm(ms: number, always = false): void {
    if (stopped || (intervalMs <= 0 && !always)) return;
    if (timer !== null) clearTimeout(timer);
    dueAt = Date.now() + ms;
    timer = setTimeout(() => {
      timer = null;
      void sweepOnce()
        .catch(() => {})
        .then(() => {
          if (timer === null) arm(down ? outageMs : intervalMs);
        });
    }, ms);
    timer.unref();
  }
  arm(intervalMs);

  return {
    sweepOnce,
    sweepIn(ms) {
      if (timer === null || Date.now() + ms < dueAt) arm(ms, true);
    },
    noticeOutage: enterOutage,
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await last.catch(() => {});
    },
  };
}
