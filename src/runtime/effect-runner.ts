/**
 * Runs committed effects at least once, each under its idempotency key: per conversation in commit
 * order (a chat's messages keep their order), conversations in parallel. A transient failure is
 * retried with backoff; a permanent one is recorded as dead. An effect's result (a created charge)
 * comes back to its conversation as an event, itself idempotent by the effect's key. A done effect is
 * marked in the background: the chat's next send does not wait for that write, and a failed mark is
 * retried, never the handler (a message is not sent twice because the database blinked).
 */
import { BotflowError } from '../errors.ts';
import type { FlowEvent } from '../flow/types.ts';
import type { Dispatch, KeyedEffect } from './conversation-host.ts';

/** Executes one kind of effect; returns the event to feed back to the conversation, if any. */
export type EffectHandler = (effect: KeyedEffect) => Promise<FlowEvent | null>;

/** Where effect outcomes are recorded (the outbox table, in production). */
export interface EffectOutbox {
  markDone(key: string): Promise<void>;
  markFailed(
    key: string,
    failure: { attempts: number; error: string; dead: boolean; nextAttemptAt: number | null },
  ): Promise<void>;
}

export interface EffectRunnerOptions {
  handlers: Partial<Record<KeyedEffect['effect']['type'], EffectHandler>>;
  outbox: EffectOutbox;
  dispatch(input: Dispatch): Promise<unknown>;
  /** Called when an effect fails for good (metrics, logs); never with secrets. */
  onFailure?(effect: KeyedEffect, error: BotflowError, dead: boolean): void;
  /** Called when a done effect could not be marked so (it stays pending and runs again on restart). */
  onMarkFailed?(effect: KeyedEffect, error: unknown): void;
  retry?: { baseMs: number; maxMs: number; maxAttempts: number };
  now(): number;
  random?(): number;
}

/** Runs effects. */
export interface EffectRunner {
  enqueue(effects: KeyedEffect[]): void;
  /** Effects queued or running. */
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

/** Attempts at recording a done effect before leaving it pending for the next start. */
const MARK_ATTEMPTS = 5;

/** Creates a runner. */
export function createEffectRunner(options: EffectRunnerOptions): EffectRunner {
  const retry = options.retry ?? { baseMs: 200, maxMs: 30_000, maxAttempts: 8 };
  const random = options.random ?? Math.random;
  const chains = new Map<string, Promise<void>>();
  const inFlight = new Set<string>();
  let pending = 0;
  let stopped = false;
  let waiters: Array<() => void> = [];

  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
  /** Exponential backoff before attempt `attempt + 1`, capped at `retry.maxMs`. */
  const backoffMs = (attempt: number) => Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1));

  /** Records a done effect off the chat's chain, retrying the write (not the effect) a few times. */
  function markDone(item: KeyedEffect): void {
    pending += 1;
    void (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await options.outbox.markDone(item.key);
          return;
        } catch (error) {
          if (attempt >= MARK_ATTEMPTS || stopped) {
            options.onMarkFailed?.(item, error);
            return;
          }
          await sleep(backoffMs(attempt));
        }
      }
    })().finally(settle);
  }

  async function runOne(item: KeyedEffect): Promise<void> {
    const handler = options.handlers[item.effect.type];
    for (let attempt = 1; ; attempt++) {
      if (stopped) return;
      try {
        const result = handler === undefined ? null : await handler(item);
        // A result (a created charge) goes back to the conversation before the effect counts as done;
        // if that fails the handler runs again, which for a charge returns the one already created.
        if (result !== null)
          await options.dispatch({
            botId: item.botId,
            userId: item.userId,
            event: result,
            inputKey: `effect:${item.key}`,
          });
      } catch (thrown) {
        if (await failed(item, thrown, attempt)) return;
        continue;
      }
      markDone(item);
      return;
    }
  }

  /** Records a failed attempt; true when the effect is dead (no more attempts), after waiting otherwise. */
  async function failed(item: KeyedEffect, thrown: unknown, attempt: number): Promise<boolean> {
    const error = asCoded(thrown);
    const dead = !error.retryable || attempt >= retry.maxAttempts;
    const delay = backoffMs(attempt) * (0.5 + random() / 2);
    await options.outbox
      .markFailed(item.key, {
        attempts: attempt,
        error: `${error.code}: ${error.message}`,
        dead,
        nextAttemptAt: dead ? null : options.now() + delay,
      })
      .catch(() => {});
    if (dead) {
      options.onFailure?.(item, error, true);
      if (item.effect.type === 'createCharge') {
        await options
          .dispatch({
            botId: item.botId,
            userId: item.userId,
            event: { type: 'payment.create_failed', order: item.effect.order, reason: error.code },
            inputKey: `effect-failed:${item.key}`,
          })
          .catch(() => {});
      }
      return true;
    }
    options.onFailure?.(item, error, false);
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

  return {
    enqueue(effects) {
      for (const item of effects) {
        if (inFlight.has(item.key)) continue;
        inFlight.add(item.key);
        pending += 1;
        const chainKey = `${item.botId}:${item.userId}`;
        const next = (chains.get(chainKey) ?? Promise.resolve())
          .then(() => runOne(item))
          .catch(() => {})
          .finally(() => {
            inFlight.delete(item.key);
            if (chains.get(chainKey) === next) chains.delete(chainKey);
            settle();
          });
        chains.set(chainKey, next);
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
    },
  };
}
