/**
 * What `bootstrap(options)` takes and what it returns: the options of an in-process botflow and the
 * handles of a running one (the CLI, tests, the demo, the cluster worker and benchmarks use them).
 */
import type { Logger } from 'pino';
import type { PollingOptions, Polling } from './bot/poll-updates.ts';
import type { BotRegistration } from './bot/register-bot.ts';
import type { Config } from './config.ts';
import type { Funnel } from './create-funnel.ts';
import type { PostgresConversationStore } from './db/conversation-store.ts';
import type { FlowRepository } from './db/flow-repository.ts';
import type { DatabaseHandle } from './db/open-database.ts';
import type { FlowEvent } from './flow/types.ts';
import type { Metrics } from './observability/metrics.ts';
import type { FlowCompiler } from './runtime/compile-pool.ts';
import type { ConversationHost, Dispatch, DispatchResult, KeyedEffect } from './runtime/conversation-host.ts';
import type { EffectHandler, EffectRunner } from './runtime/effect-runner.ts';
import type { CachedFlowSource } from './runtime/flow-source.ts';
import type { OutboxSweeper } from './runtime/outbox-sweeper.ts';
import type { TimerPoller } from './runtime/timer-poller.ts';

export interface BootstrapOptions {
  /** Environment to read the configuration from (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Overrides applied after the environment is read. */
  config?: Partial<Config>;
  now?: () => number;
  /** How effects are executed, by type; effects without a handler are only marked done. */
  effectHandlers?: Partial<Record<KeyedEffect['effect']['type'], EffectHandler>>;
  /** Timer poll interval (ms); 0 disables the loop (tests call `timers.pollOnce`). */
  timerIntervalMs?: number;
  /** Period of the effects outbox sweep (ms, default 5 s); 0: only at start and on shard claims. */
  outboxSweepMs?: number;
  /** The effect runner's backoff and attempt cap (default: 200 ms doubling to 30 s, 8 attempts). */
  effectRetry?: { baseMs: number; maxMs: number; maxAttempts: number };
  /** Actors idle this long leave memory (their state is committed); checked every minute. */
  passivateAfterMs?: number;
  /** Observes committed effects (tests, the demo's report). */
  onCommitted?(effects: KeyedEffect[]): void;
  /** Observes every finished input: its key and how long it took to commit (the demo's latency report). */
  onDispatched?(input: Dispatch, seconds: number, error?: unknown): void;
  workerId?: string;
  /** Prefix of every Redis key and channel (default BOTFLOW_REDIS_PREFIX, else `bf`; tests use a random one). */
  redisPrefix?: string;
  /** Serve HTTP (admin API, health, metrics) on `config.port`, or on `port` here (0: any). False: no HTTP. */
  http?: false | { port?: number; host?: string };
  logger?: Logger;
  /** Own every shard at start (one worker). False: a cluster worker, given shards by `setOwnedShards`. */
  ownAllShards?: boolean;
  /**
   * A commit was refused because another process claimed the shard since this worker did
   * (`stale_epoch`); the cluster worker claims it again when its table still gives it the shard.
   */
  onStaleEpoch?(shard: number): void;
  /** How long `close` waits for running effects before leaving them to the outbox (default 5 s). */
  drainTimeoutMs?: number;
  /** How long `close` lets in-flight HTTP requests finish before cutting their connections (default 10 s). */
  httpCloseTimeoutMs?: number;
  /** Period of the payment, access and conversion jobs (ms); 0 disables the loop (tests call `runJobs`). */
  jobsIntervalMs?: number;
  /**
   * Long polling instead of webhooks (development; one process only): every registered bot's webhook
   * is deleted and its updates fetched with getUpdates; bots added later are polled too, never given a
   * webhook. An object tunes the loop (tests).
   */
  polling?: boolean | Pick<PollingOptions, 'timeoutSeconds' | 'retryBaseMs' | 'maxRetryMs'>;
}

/** A running botflow. */
export interface BotflowApp {
  config: Config;
  db: DatabaseHandle;
  store: PostgresConversationStore;
  flows: FlowRepository;
  source: CachedFlowSource;
  compiler: FlowCompiler;
  host: ConversationHost;
  effects: EffectRunner;
  /** Re-reads the effects outbox (periodically, and after a store outage). */
  outboxSweeper: OutboxSweeper;
  timers: TimerPoller;
  logger: Logger;
  metrics: Metrics;
  /** Base URL of the HTTP server, when serving. */
  url: string | undefined;
  /** Takes the given shards (claiming them in the database, which fences out their previous owner) and drops the rest. */
  setOwnedShards(shards: readonly number[]): Promise<void>;
  /** Claims owned shards again at a new epoch (fencing whoever claimed them since); the rest are ignored. */
  reclaimShards(shards: readonly number[]): Promise<void>;
  owns(shard: number): boolean;
  /** Sends one event to a conversation and resolves once its result is committed. */
  inject(botId: string, userId: string, event: FlowEvent, inputKey?: string): Promise<DispatchResult>;
  /** Registers a bot (token stored, never logged) and points its webhook here; returns its username. */
  addBot(bot: BotRegistration): Promise<{ username: string }>;
  /** Telegram, payments, tracking and conversions. */
  funnel: Funnel;
  /** The long polling loops, when started with `polling`. */
  polling: Polling | undefined;
  /** Sends an input to its conversation's owner (this process, or another worker in a cluster). */
  dispatch(input: Dispatch): Promise<DispatchResult>;
  /** Replaces what `/metrics` serves (a cluster worker serves the whole cluster's, summed by the primary). */
  setMetricsSource(source: () => Promise<string>): void;
  /** Replaces how inputs reach their owner (the cluster worker routes through the primary). */
  setRouter(route: (input: Dispatch) => Promise<DispatchResult>): void;
  /** One round of the periodic jobs (reconciliation, access expiry, conversions). */
  runJobs(): ReturnType<Funnel['runJobs']>;
  /** Validates, compiles and publishes a flow for a bot; returns the new version. */
  publishFlow(botId: string, definition: unknown): Promise<number>;
  /** Drains mailboxes, commits and effects, then closes everything. */
  close(): Promise<void>;
}
