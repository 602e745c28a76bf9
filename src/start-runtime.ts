/**
 * The conversation runtime of one process, wired: shard ownership (every shard for one worker, those
 * the primary gives a cluster worker), the conversation host with its observers, the funnel's edges
 * (Telegram, payments, tracking), the effect runner with its outbox sweeper, and the durable timer
 * poller. The parts call each other both ways (the host's commits feed the effect runner, whose
 * results go back to the host; a store outage seen by the runner wakes the sweeper that feeds it), so
 * those links are closures over parts made just below them, all before the first input can arrive.
 */
import type { Logger } from 'pino';
import type { BootstrapOptions } from './botflow-app.ts';
import type { Config } from './config.ts';
import { createFunnel, type Funnel } from './create-funnel.ts';
import type { DatabaseHandle } from './db/open-database.ts';
import { STEP_COUNT_WRITER } from './db/step-count-writer.ts';
import type { Metrics } from './observability/metrics.ts';
import {
  createConversationHost,
  type ConversationHost,
  type Dispatch,
  type DispatchResult,
} from './runtime/conversation-host.ts';
import { createEffectRunner, type EffectRunner } from './runtime/effect-runner.ts';
import { createRuntimeObservers } from './runtime/observe-runtime.ts';
import { type OutboxSweeper, startOutboxSweeper } from './runtime/outbox-sweeper.ts';
import { createShardOwnership, type ShardOwnership } from './runtime/shard-ownership.ts';
import { startTimerPoller, type TimerPoller } from './runtime/timer-poller.ts';
import { createUnblockOnBuyerInput } from './bot/unblock-on-buyer-input.ts';
import type { Stores } from './open-stores.ts';

/** How long a cluster worker waits before running the pending effects of shards it just took. */
const HANDOVER_GRACE_MS = 2000;

/** The wired runtime. */
export interface Runtime {
  shards: ShardOwnership;
  host: ConversationHost;
  funnel: Funnel;
  effects: EffectRunner;
  outboxSweeper: OutboxSweeper;
  timers: TimerPoller;
  /** Sends an input to its conversation's owner (through the router a cluster worker sets). */
  dispatch(input: Dispatch): Promise<DispatchResult>;
  /** Replaces how inputs reach their owner. */
  setRouter(route: (input: Dispatch) => Promise<DispatchResult>): void;
  /**
   * Stops the loops, drains the mailboxes and lets running effects finish for up to `timeoutMs`
   * (effects still failing stay in the outbox for the next start), then closes the funnel's clients.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Stops everything at once (start-up failed): nothing may keep polling a database about to be closed. */
  abort(): Promise<void>;
}

/** Wires the runtime over the opened stores; it owns no shard until `shards.set`. */
export function startRuntime(options: {
  bootstrap: BootstrapOptions;
  config: Config;
  db: DatabaseHandle;
  stores: Stores;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  workerId: string;
  redisPrefix: string;
  /** The base URL gateways post webhooks to, once the server listens. */
  baseUrl(): string;
}): Runtime {
  const { bootstrap: o, stores, logger, metrics, now } = options;
  const { store, outbox } = stores;
  const shards = createShardOwnership({
    claim: (fresh) => store.claimShards(fresh, options.workerId),
    onDropped: (shard) => host.dropShard(shard),
    // The new shards' pending effects (left by a crash, a restart or their previous owner) run here.
    // One worker runs them before start returns; a cluster worker first lets the previous owner
    // finish what it was running for them (its queued ones it leaves: see the runner's `owns`).
    onTaken: async () => {
      if (o.ownAllShards === false) outboxSweeper.sweepIn(HANDOVER_GRACE_MS);
      else await outboxSweeper.sweepOnce().catch(() => {});
    },
  });
  const observers = createRuntimeObservers({
    metrics,
    logger,
    hostStats: () => ({ activeActors: host.activeActors, queued: host.queued }),
    ...(o.onDispatched === undefined ? {} : { onDispatched: o.onDispatched }),
  });
  const host = createConversationHost({
    store,
    flows: stores.source,
    now,
    stepsRecordKind: STEP_COUNT_WRITER.kind,
    epochOf: shards.epochOf,
    ...observers.host,
    onInput: (input) => unblockOnBuyerInput(input),
    onTimerStarted: (dueAt) => timers.noteDue(dueAt),
    ...(o.onStaleEpoch === undefined ? {} : { onStaleEpoch: o.onStaleEpoch }),
    onApplied: (input, result) => funnel.rememberCommitted({ ...input, created: result.created }),
    onCommitted(committed) {
      o.onCommitted?.(committed);
      effects.enqueue(committed);
    },
  });
  let route = (input: Dispatch): Promise<DispatchResult> => host.dispatch(input);
  const dispatch = (input: Dispatch) => route(input);
  const funnel = createFunnel({
    config: options.config,
    orm: options.db.orm,
    dispatch,
    flows: stores.source,
    logger,
    metrics,
    now,
    redisPrefix: options.redisPrefix,
    baseUrl: options.baseUrl,
    owns: shards.ownsConversation,
    ownedShards: shards.owned,
    epochOf: shards.epochOfConversation,
  });
  const unblockOnBuyerInput = createUnblockOnBuyerInput(funnel.apis);
  const effects = createEffectRunner({
    handlers: { ...funnel.effectHandlers, ...o.effectHandlers },
    giveUpEvents: funnel.effectGiveUpEvents,
    outbox,
    dispatch,
    now,
    ...(o.effectRetry === undefined ? {} : { retry: o.effectRetry }),
    owns: (effect) => shards.ownsConversation(effect.botId, effect.userId),
    onStoreOutage: (error) => outboxSweeper.noticeOutage(error),
    ...observers.effects,
  });
  const outboxSweeper = startOutboxSweeper({
    read: (owned, at, limit) => outbox.pending(owned, at, limit),
    runner: effects,
    shards: shards.owned,
    now,
    intervalMs: o.outboxSweepMs ?? 5000,
    ...observers.sweeper,
  });
  const timers = startTimerPoller({
    store,
    host,
    shards: shards.owned,
    now,
    intervalMs: o.timerIntervalMs ?? 1000,
    ...observers.timers,
  });
  // Actors idle this long leave memory (their state is committed).
  const passivateAfter = o.passivateAfterMs ?? 10 * 60_000;
  const passivation = setInterval(() => host.passivateIdle(passivateAfter), Math.min(60_000, passivateAfter));
  passivation.unref();
  return {
    shards,
    host,
    funnel,
    effects,
    outboxSweeper,
    timers,
    dispatch,
    setRouter(next) {
      route = next;
    },
    async drain(timeoutMs) {
      clearInterval(passivation);
      await timers.stop();
      await outboxSweeper.stop();
      await host.drain();
      const grace = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
      await Promise.race([effects.idle(), grace]);
      effects.stop();
      await funnel.close();
    },
    async abort() {
      clearInterval(passivation);
      await timers.stop();
      effects.stop();
      await funnel.close();
    },
  };
}
