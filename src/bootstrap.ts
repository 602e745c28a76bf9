/**
 * Starts botflow in-process and returns handles, so the CLI, tests and benchmarks run the real thing:
 * the database (Postgres, or embedded PGlite), the flow compiler, the conversation host with its group
 * commit, the effect runner and the durable timer poller. One worker owns every shard here; the
 * cluster layer runs one of these per worker with its own shards.
 */
import { SHARD_COUNT } from './cluster/shard.ts';
import { type Config, loadConfig } from './config.ts';
import { createConversationStore, type PostgresConversationStore } from './db/conversation-store.ts';
import { createEffectOutbox } from './db/effect-outbox.ts';
import { createFlowRepository, type FlowRepository } from './db/flow-repository.ts';
import { type DatabaseHandle, openDatabase } from './db/open-database.ts';
import { createSql } from './db/sql-client.ts';
import { PAYMENT_RECORD_WRITERS } from './payments/payment-record-writers.ts';
import { TRACKING_RECORD_WRITERS } from './tracking/tracking-record-writers.ts';
import { createFunnel, type Funnel } from './create-funnel.ts';
import { BotflowError } from './errors.ts';
import { createAdminRouter } from './http/admin-routes.ts';
import { createAdminService } from './http/admin-service.ts';
import { createHttpApp } from './http/create-http-app.ts';
import { startJobLoop } from './jobs/start-job-loop.ts';
import { type Listening, listen } from './http/serve.ts';
import { createLogger } from './observability/logger.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import type { Logger } from 'pino';
import type { FlowEvent } from './flow/types.ts';
import { createFlowCompiler, type FlowCompiler } from './runtime/compile-pool.ts';
import {
  type ConversationHost,
  createConversationHost,
  type Dispatch,
  type DispatchResult,
  type KeyedEffect,
} from './runtime/conversation-host.ts';
import { shardOf } from './cluster/shard.ts';
import { createEffectRunner, type EffectHandler, type EffectRunner } from './runtime/effect-runner.ts';
import { type CachedFlowSource, createFlowSource } from './runtime/flow-source.ts';
import { type OutboxSweeper, startOutboxSweeper } from './runtime/outbox-sweeper.ts';
import { startTimerPoller, type TimerPoller } from './runtime/timer-poller.ts';
import { type Polling, type PollingOptions, startPolling } from './bot/poll-updates.ts';
import { type BotRegistration, createBotRegistrar } from './bot/register-bot.ts';

export type { BotRegistration } from './bot/register-bot.ts';
import {
  createMemoryFlowChangeBus,
  createRedisFlowChangeBus,
  type FlowChangeBus,
} from './stores/flow-change-bus.ts';

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

/** Events only the buyer can cause (a blocked bot receives nothing from its buyer). */
const USER_EVENTS: ReadonlySet<string> = new Set(['start', 'text', 'click', 'payment.check']);

/** How long a cluster worker waits before running the pending effects of shards it just took. */
const HANDOVER_GRACE_MS = 2000;
/** How long done-marks wait for a group commit to ride before they are recorded alone. */
const DONE_MARK_LINGER_MS = 50;

/** Starts botflow. */
export async function bootstrap(options: BootstrapOptions = {}): Promise<BotflowApp> {
  const config: Config = { ...loadConfig(options.env ?? process.env), ...options.config };
  const now = options.now ?? Date.now;
  const workerId = options.workerId ?? `worker-${process.pid}`;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  let shuttingDown = false;
  const db = await openDatabase({
    ...(config.databaseUrl === undefined ? {} : { url: config.databaseUrl }),
    dataDir: config.dataDir,
  });
  const compiler = createFlowCompiler();
  try {
    // Payments and tracking write their records inside the group commit, through their own writers.
    const store = createConversationStore(db.orm, {
      recordWriters: [...PAYMENT_RECORD_WRITERS, ...TRACKING_RECORD_WRITERS],
    });
    const flows = createFlowRepository(db.orm);
    const source = createFlowSource(
      flows,
      compiler,
      config.redisUrl === undefined ? {} : { latestTtlMs: 5000, now },
    );
    const bus: FlowChangeBus =
      config.redisUrl === undefined
        ? createMemoryFlowChangeBus()
        : createRedisFlowChangeBus({
            url: config.redisUrl,
            prefix: options.redisPrefix ?? config.redisPrefix,
          });
    await bus.subscribe((botId) => source.invalidate(botId));
    // Done-marks ride the next group commit, or go alone after a short linger when none comes.
    const outbox = createEffectOutbox(db.orm, {
      rideCommit: (keys) => store.markDoneWithCommit(keys, DONE_MARK_LINGER_MS),
    });
    const sql = createSql(db.orm);

    // One worker: own every shard, fencing out whatever owned them before.
    const epochs = new Map<number, number>();
    const owned = (): number[] => [...epochs.keys()];
    const setOwnedShards = async (wanted: readonly number[]): Promise<void> => {
      const want = new Set(wanted);
      for (const shard of [...epochs.keys()]) {
        if (!want.has(shard)) {
          epochs.delete(shard);
          host.dropShard(shard);
        }
      }
      const fresh = wanted.filter((s) => !epochs.has(s));
      if (fresh.length === 0) return;
      for (const [shard, epoch] of await store.claimShards(fresh, workerId)) epochs.set(shard, epoch);
      // The new shards' pending effects (left by a crash, a restart or their previous owner) run here.
      // One worker runs them before start returns; a cluster worker first lets the previous owner
      // finish what it was running for them (its queued ones it leaves: see the runner's `owns`).
      if (options.ownAllShards === false) outboxSweeper.sweepIn(HANDOVER_GRACE_MS);
      else await outboxSweeper.sweepOnce().catch(() => {});
    };

    const host = createConversationHost({
      store,
      flows: source,
      now,
      epochOf: (shard) => {
        const epoch = epochs.get(shard);
        if (epoch === undefined) throw new BotflowError('STALE_OWNER', `shard ${shard} is not owned here`);
        return epoch;
      },
      onBatch(size, seconds) {
        metrics.commitBatchSize.observe(size);
        metrics.commitLatency.observe(seconds);
        metrics.transitions.inc(size);
        metrics.activeActors.set(host.activeActors);
        metrics.mailboxDepth.set(host.queued);
      },
      onDispatched(input, result, seconds, error) {
        options.onDispatched?.(input, seconds, error);
        metrics.events.inc({
          kind: input.event.type.startsWith('xstate.after') ? 'timer' : input.event.type,
        });
        const fields = {
          bot_id: input.botId,
          user_id: input.userId,
          event: input.event.type,
          step_id: result?.currentStep ?? null,
          duration_ms: Math.round(seconds * 1e5) / 100,
        };
        if (error === undefined)
          logger.debug({ ...fields, applied: result?.applied, restarted: result?.restarted }, 'event');
        else logger.warn({ ...fields, code: (error as BotflowError).code ?? 'INTERNAL' }, 'event failed');
        if (result?.restarted)
          logger.warn(fields, 'conversation state did not resolve against its flow version; restarted');
      },
      onInput(input) {
        // The buyer wrote (or pressed a button): if they had blocked the bot, they no longer do.
        if (USER_EVENTS.has(input.event.type)) funnel.apis.unblock(input.botId, input.userId);
      },
      onCommitted(committed) {
        options.onCommitted?.(committed);
        // Commits only happen after start-up, when `effects` exists.
        effects.enqueue(committed);
      },
    });
    let route = (input: Dispatch): Promise<DispatchResult> => host.dispatch(input);
    let exposition = (): Promise<string> => metrics.registry.metrics();
    const dispatch = (input: Dispatch) => route(input);
    let listening: Listening | undefined;
    const funnel = createFunnel({
      config,
      orm: db.orm,
      dispatch,
      flows: source,
      logger,
      metrics,
      now,
      redisPrefix: options.redisPrefix ?? config.redisPrefix,
      baseUrl: () => listening?.url ?? `http://127.0.0.1:${config.port}`,
      owns: (botId, userId) => epochs.has(shardOf(botId, userId)),
      ownedShards: owned,
    });
    const bots = funnel.bots;
    let polling: Polling | undefined;
    const effects: EffectRunner = createEffectRunner({
      handlers: { ...funnel.effectHandlers, ...options.effectHandlers },
      outbox,
      dispatch,
      now,
      ...(options.effectRetry === undefined ? {} : { retry: options.effectRetry }),
      owns: (effect) => epochs.has(shardOf(effect.botId, effect.userId)),
      onStoreOutage: (error) => outboxSweeper.noticeOutage(error),
      onFailure(effect, error, final) {
        metrics.effectFailures.inc({ type: effect.effect.type, final: String(final) });
        logger.warn(
          {
            bot_id: effect.botId,
            user_id: effect.userId,
            effect: effect.effect.type,
            code: error.code,
            final,
          },
          'effect failed',
        );
      },
      onMarkFailed(error, unrecorded) {
        logger.warn(
          { code: (error as { code?: string }).code ?? 'STORE_UNAVAILABLE', unrecorded },
          'effect outcomes not recorded; retrying until they are (the effects do not run again)',
        );
      },
      onMarkRecovered: () => logger.info('effect outcomes recorded again'),
    });
    const outboxSweeper = startOutboxSweeper({
      read: (shards, at, limit) => outbox.pending(shards, at, limit),
      runner: effects,
      shards: owned,
      now,
      intervalMs: options.outboxSweepMs ?? 5000,
      onOutage: (error) =>
        logger.warn(
          { code: (error as { code?: string }).code ?? 'STORE_UNAVAILABLE' },
          'store unavailable: effects wait for it and resume when it answers',
        ),
      onRecovered: () => logger.info('store available again: effects resume'),
    });
    const timers = startTimerPoller({
      store,
      host,
      shards: owned,
      now,
      intervalMs: options.timerIntervalMs ?? 1000,
      onDue: (count) => metrics.timersDue.set(count),
      onError: (error) => logger.warn({ err: error }, 'timer poll failed'),
      onOutage: (error) =>
        logger.warn(
          { code: (error as { code?: string }).code ?? 'STORE_UNAVAILABLE' },
          'store unavailable: timers fire when it answers',
        ),
      onRecovered: () => logger.info('store available again: timers fire'),
    });

    if (options.ownAllShards !== false)
      await setOwnedShards(Array.from({ length: SHARD_COUNT }, (_, i) => i));

    const publishFlow = async (botId: string, definition: unknown): Promise<number> => {
      const id = (definition as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') throw new BotflowError('INVALID_FLOW', 'the flow has no id');
      const compiled = await compiler.check(definition);
      await flows.saveDraft({ id, botId, name: compiled.flow.name ?? id, draft: definition });
      const published = await flows.publish(id, definition, compiled.config);
      source.invalidate(botId);
      // The version is committed; other workers learn of it now, or within the cache TTL if Redis is down.
      await bus.publish(botId).catch(() => {});
      logger.info({ bot_id: botId, flow_id: id, version: published.version }, 'flow published');
      return published.version;
    };

    const addBot = createBotRegistrar({
      apiRoot: config.telegramApiRoot,
      bots,
      logger,
      forgetBot: (id) => funnel.forgetBot(id),
      baseUrl: () => config.publicUrl ?? listening?.url,
      polling: () => polling,
    });

    if (options.http !== false) {
      const admin = createAdminRouter(
        createAdminService({ addBot, funnel, flows, store, publishFlow, polling: () => polling }),
        config.adminToken,
      );
      const http = createHttpApp({
        logger,
        metrics,
        exposition: () => exposition(),
        routers: [admin, ...funnel.routers],
        async notReady() {
          if (shuttingDown) return new BotflowError('SHUTTING_DOWN', 'draining');
          try {
            await sql('select 1');
            return null;
          } catch (error) {
            return error instanceof BotflowError
              ? error
              : new BotflowError('STORE_UNAVAILABLE', 'database down');
          }
        },
      });
      listening = await listen(http, {
        port: options.http?.port ?? config.port,
        host: options.http?.host ?? '127.0.0.1',
      }).catch(async (error: unknown) => {
        // Not listening (port in use): nothing may keep polling a database about to be closed.
        await timers.stop();
        effects.stop();
        await funnel.close();
        await bus.close();
        throw error;
      });
    }

    const jobs = startJobLoop(() => funnel.runJobs(), options.jobsIntervalMs ?? 5000, logger);

    if (options.polling !== undefined && options.polling !== false) {
      polling = await startPolling({
        ...(options.polling === true ? {} : options.polling),
        apiRoot: config.telegramApiRoot,
        async listBots() {
          const found: Array<{ id: string; token: string }> = [];
          for (const bot of await bots.list()) {
            const secrets = await bots.secrets(bot.id);
            if (secrets !== null) found.push({ id: bot.id, token: secrets.token });
          }
          return found;
        },
        handle: funnel.handleUpdate,
        logger,
      });
    }

    const passivateAfter = options.passivateAfterMs ?? 10 * 60_000;
    const sweeper = setInterval(() => host.passivateIdle(passivateAfter), Math.min(60_000, passivateAfter));
    sweeper.unref();

    return {
      config,
      db,
      store,
      flows,
      source,
      compiler,
      host,
      effects,
      outboxSweeper,
      timers,
      logger,
      metrics,
      url: listening?.url,
      setOwnedShards,
      owns: (shard) => epochs.has(shard),
      inject: (botId, userId, event, inputKey) =>
        host.dispatch({ botId, userId, event, ...(inputKey === undefined ? {} : { inputKey }) }),
      addBot,
      funnel,
      polling,
      dispatch,
      setMetricsSource(source) {
        exposition = source;
      },
      setRouter(next) {
        route = next;
      },
      runJobs: () => funnel.runJobs(),
      publishFlow,
      async close() {
        shuttingDown = true;
        // Stop fetching first: the updates being handled still commit, the rest stay with Telegram.
        await polling?.stop();
        await listening?.close(options.httpCloseTimeoutMs);
        clearInterval(sweeper);
        await jobs.stop();
        await timers.stop();
        await outboxSweeper.stop();
        await host.drain();
        // Effects still failing (Telegram down) stay in the outbox for the next start: drain, but bounded.
        const grace = new Promise<void>((r) => setTimeout(r, options.drainTimeoutMs ?? 5000).unref());
        await Promise.race([effects.idle(), grace]);
        effects.stop();
        await compiler.close();
        await funnel.close();
        await bus.close();
        await db.close();
      },
    };
  } catch (error) {
    await compiler.close();
    await db.close();
    throw error;
  }
}
