/**
 * Runs committed effects at least once, each under its idempotency key: per conversation in commit
 * order (a chat's messages keep their order), conversations in parallel. A transient failure is
 * retried with backoff; a permanent one is recorded as dead. A store outage is neither: it says
 * nothing about the effect, so it is waited out without counting an attempt. An effect's result (a
 * created charge) comes back to its conversation as an event, itself idempotent by the effect's key.
 * Outcomes are recorded off the chat's chain, done-marks of one tick in one statement, and retried
 * until recorded; until then the outcome is remembered here, so no read of the outbox runs it again
 * (a message is not sent twice because the database blinked).
 */
import { BotflowError } from '../errors.ts';
import type { FlowEvent } from '../flow/types.ts';
import type { Dispatch, KeyedEffect } from './conversation-host.ts';
import { isStoreOutage } from './is-store-outage.ts';
import { computeBackoff } from './compute-backoff.ts';
import { conversationKeyOf } from './conversation-key.ts';
import { inputKeys } from './input-keys.ts';

/**
 * How an effect comes to run: `firstRun` is true only for the first attempt of an effect this process
 * committed itself (queued by `enqueue`, not found by an outbox read), which nothing can have run
 * before; a handler may then skip reading what an earlier run would have left (a created charge).
 * Absent (a direct call): treat the run as a retry.
 */
export interface EffectRun {
  firstRun: boolean;
}

/** Executes one kind of effect; returns the event to feed back to the conversation, if any. */
export type EffectHandler = (effect: KeyedEffect, run?: EffectRun) => Promise<FlowEvent | null>;

/**
 * What a kind of effect tells its conversation when it is given up (dead): the event, or null for
 * nothing. The funnel registers these (a given-up charge becomes `payment.create_failed`), so the
 * runner names no effect of its own.
 */
export type GiveUpEvent = (effect: KeyedEffect, error: BotflowError) => FlowEvent | null;

/** A failed attempt as the outbox records it. */
export interface EffectFailure {
  attempts: number;
  error: string;
  dead: boolean;
  nextAttemptAt: number | null;
}

/** Where effect outcomes are recorded (the outbox table, in production). */
export interface EffectOutbox {
  /** Records every one of `keys` as done, in one statement. */
  markDone(keys: readonly string[]): Promise<void>;
  markFailed(key: string, failure: EffectFailure): Promise<void>;
}

export interface EffectRunnerOptions {
  handlers: Partial<Record<KeyedEffect['effect']['type'], EffectHandler>>;
  /** Per effect type, the event a given-up effect sends its conversation (under its own input key). */
  giveUpEvents?: Partial<Record<KeyedEffect['effect']['type'], GiveUpEvent>>;
  outbox: EffectOutbox;
  dispatch(input: Dispatch): Promise<unknown>;
  /**
   * Whether this process still owns the effect's conversation, checked before every attempt: an effect
   * whose shard moved to another worker is left pending in the outbox for its new owner (default: all).
   */
  owns?(effect: KeyedEffect): boolean;
  /** Called when an attempt fails for a reason of its own (metrics, logs); never with secrets. */
  onFailure?(effect: KeyedEffect, error: BotflowError, dead: boolean): void;
  /** Called on every store outage the runner meets (a handler's, or recording an outcome). */
  onStoreOutage?(error: unknown): void;
  /** Called when recording outcomes starts failing (once, until they are recorded again). */
  onMarkFailed?(error: unknown, unrecorded: number): void;
  /** Called when outcomes are recorded again after `onMarkFailed`. */
  onMarkRecovered?(): void;
  retry?: { baseMs: number; maxMs: number; maxAttempts: number };
  /** How long done-marks gather before one statement records them all (default 100 ms). */
  markEveryMs?: number;
  now(): number;
  random?(): number;
}

/** Runs effects. */
export interface EffectRunner {
  /** Queues freshly committed effects (any this process already has or had is skipped). */
  enqueue(effects: KeyedEffect[]): void;
  /**
   * Queues effects an outbox read found pending, the read having started when `checkpoint` returned
   * `since`; skips those running here or finished here, recorded or not.
   */
  recover(effects: KeyedEffect[], since: number): void;
  /** A mark to take before reading the outbox: the read will see every outcome recorded up to now. */
  checkpoint(): number;
  /** The store answers again: ends every wait for it, so retries and unrecorded outcomes go at once. */
  wake(): void;
  /** Effects queued or running, plus outcomes not yet recorded. */
  readonly pending: number;
  /** Resolves when every queued effect has finished (done or dead) and its outcome is recorded. */
  idle(): Promise<void>;
  stop(): void;
}

/** The failure a handler threw, as a coded error (unknown errors count as transient). */
function asCoded(error: unknown): BotflowError {
  if (error instanceof BotflowError) return error;
  return new BotflowError('UPSTREAM_FAILED', 'effect failed', { cause: error });
}

/** Recorded keys kept at most (when no outbox read ever prunes them). */
const MAX_REMEMBERED = 100_000;

/** Creates a runner. */
export function createEffectRunner(options: EffectRunnerOptions): EffectRunner {
  const retry = options.retry ?? { baseMs: 200, maxMs: 30_000, maxAttempts: 8 };
  const random = options.random ?? Math.random;
  const markEveryMs = options.markEveryMs ?? 100;
  const chains = new Map<string, Promise<void>>();
  const inFlight = new Set<string>();
  /** Finished here, outcome not yet recorded: null for done, else the dead failure. */
  const unrecorded = new Map<string, EffectFailure | null>();
  /** Finished here and recorded, by the checkpoint value after its record (in that order). */
  const recorded = new Map<string, number>();
  const sleepers = new Set<() => void>();
  let generation = 0;
  let flushTimer: NodeJS.Timeout | null = null;
  let flushing = false;
  let markFailures = 0;
  let pending = 0;
  let stopped = false;
  let waiters: Array<() => void> = [];

  /** Waits `ms`; a wakeable wait (for the store) also ends on `wake`. */
  function sleep(ms: number, wakeable = false): Promise<void> {
    return new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        sleepers.delete(end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      timer.unref?.();
      if (wakeable) sleepers.add(end);
    });
  }
  /** Exponential backoff before attempt `attempt + 1`, capped at `retry.maxMs`. */
  const backoffMs = (attempt: number) => computeBackoff(attempt, retry.baseMs, retry.maxMs);
  const jittered = (ms: number) => ms * (0.5 + random() / 2);

  /** Remembers an outcome and has it recorded with the next tick's statement. */
  function finish(key: string, failure: EffectFailure | null): void {
    unrecorded.set(key, failure);
    pending += 1;
    scheduleFlush(markEveryMs);
  }

  function scheduleFlush(ms: number): void {
    if (flushTimer !== null || flushing || stopped) return;
    flushTimer = setTimeout(() => {
      flushTimer = null;
      void flush();
    }, ms);
    flushTimer.unref?.();
  }

  /** Records every outcome finished so far: the done ones in one statement, then each dead one. */
  async function flush(): Promise<void> {
    flushing = true;
    const batch = [...unrecorded];
    try {
      const done = batch.filter(([, failure]) => failure === null).map(([key]) => key);
      if (done.length > 0) {
        await options.outbox.markDone(done);
        remember(done);
      }
      for (const [key, failure] of batch) {
        if (failure === null) continue;
        await options.outbox.markFailed(key, failure);
        remember([key]);
      }
      if (markFailures > 0) options.onMarkRecovered?.();
      markFailures = 0;
    } catch (error) {
      if (markFailures === 0) options.onMarkFailed?.(error, unrecorded.size);
      if (isStoreOutage(error)) options.onStoreOutage?.(error);
      markFailures += 1;
    } finally {
      flushing = false;
    }
    if (unrecorded.size > 0)
      scheduleFlush(markFailures > 0 ? jittered(backoffMs(markFailures)) : markEveryMs);
  }

  /** Moves recorded outcomes from `unrecorded` to `recorded`. */
  function remember(keys: readonly string[]): void {
    generation += 1;
    for (const key of keys) {
      unrecorded.delete(key);
      recorded.set(key, generation);
      settle();
    }
    for (const key of recorded.keys()) {
      if (recorded.size <= MAX_REMEMBERED) break;
      recorded.delete(key);
    }
  }

  async function runOne(item: KeyedEffect, fresh: boolean): Promise<void> {
    const handler = options.handlers[item.effect.type];
    let attempt = 0;
    let outages = 0;
    let tries = 0;
    for (;;) {
      if (stopped || options.owns?.(item) === false) return;
      try {
        const run: EffectRun = { firstRun: fresh && tries === 0 };
        tries += 1;
        const result = handler === undefined ? null : await handler(item, run);
        // A result (a created charge) goes back to the conversation before the effect counts as done;
        // if that fails the handler runs again, which for a charge returns the one already created.
        if (result !== null)
          await options.dispatch({
            botId: item.botId,
            userId: item.userId,
            event: result,
            inputKey: inputKeys.effectDone(item.key),
          });
      } catch (thrown) {
        if (isStoreOutage(thrown)) {
          // Not the effect's fault and not a reason to give up: wait for the store, uncounted.
          options.onStoreOutage?.(thrown);
          outages += 1;
          await sleep(jittered(backoffMs(outages)), true);
          continue;
        }
        attempt += 1;
        if (await failed(item, asCoded(thrown), attempt)) return;
        continue;
      }
      finish(item.key, null);
      return;
    }
  }

  /** Records a failed attempt; true when the effect is dead (no more attempts), after waiting otherwise. */
  async function failed(item: KeyedEffect, error: BotflowError, attempt: number): Promise<boolean> {
    const dead = !error.retryable || attempt >= retry.maxAttempts;
    const delay = jittered(backoffMs(attempt));
    const failure = {
      attempts: attempt,
      error: `${error.code}: ${error.message}`,
      dead,
      nextAttemptAt: dead ? null : options.now() + delay,
    };
    options.onFailure?.(item, error, dead);
    if (dead) {
      const event = options.giveUpEvents?.[item.effect.type]?.(item, error) ?? null;
      if (event !== null) {
        await options
          .dispatch({
            botId: item.botId,
            userId: item.userId,
            event,
            inputKey: inputKeys.effectFailed(item.key),
          })
          .catch(() => {});
      }
      finish(item.key, failure);
      return true;
    }
    // Best effort: the effect stays in flight here, so a lost record of an attempt loses nothing.
    await options.outbox.markFailed(item.key, failure).catch((e: unknown) => {
      if (isStoreOutage(e)) options.onStoreOutage?.(e);
    });
    await sleep(delay);
    return false;
  }

  function settle(): void {
    pending -= 1;
    if (pending === 0) {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    }
  }

  /** Queues effects; `fresh`: committed by this process just now (see `EffectRun`). */
  function queue(effects: KeyedEffect[], fresh: boolean): void {
    for (const item of effects) {
      if (inFlight.has(item.key) || unrecorded.has(item.key) || recorded.has(item.key)) continue;
      inFlight.add(item.key);
      pending += 1;
      const chainKey = conversationKeyOf(item.botId, item.userId);
      const next = (chains.get(chainKey) ?? Promise.resolve())
        .then(() => runOne(item, fresh))
        .catch(() => {})
        .finally(() => {
          inFlight.delete(item.key);
          if (chains.get(chainKey) === next) chains.delete(chainKey);
          settle();
        });
      chains.set(chainKey, next);
    }
  }

  return {
    enqueue: (effects) => queue(effects, true),
    recover(effects, since) {
      // A read that started after a record saw it: those keys need no remembering any more.
      for (const [key, at] of recorded) {
        if (at > since) break;
        recorded.delete(key);
      }
      queue(effects, false);
    },
    checkpoint: () => generation,
    wake() {
      for (const end of [...sleepers]) end();
      if (markFailures > 0 && flushTimer !== null) {
        clearTimeout(flushTimer);
        flushTimer = null;
        void flush();
      }
    },
    get pending() {
      return pending;
    },
    idle() {
      return pending === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r));
    },
    stop() {
      stopped = true;
      if (flushTimer !== null) clearTimeout(flushTimer);
      flushTimer = null;
    },
  };
}
