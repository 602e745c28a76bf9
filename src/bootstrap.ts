/**
 * Starts botflow in-process and returns handles, so the CLI, tests and benchmarks run the real thing:
 * the database (Postgres, or embedded PGlite), the flow compiler, the conversation host with its group
 * commit, the effect runner and the durable timer poller. One worker owns every shard here; the
 * cluster layer runs one of these per worker with its own shards.
 */
import { SHARD_COUNT } from './runtime/shard.ts';
import { type Config, loadConfig } from './config.ts';
import { createConversationStore } from './db/conversation-store.ts';
import { createEffectOutbox } from './db/effect-outbox.ts';
import { createFlowRepository } from './db/flow-repository.ts';
import { openDatabase } from './db/open-database.ts';
import { createSql } from './db/sql-client.ts';
import { PAYMENT_RECORD_WRITERS } from './payments/payment-record-writers.ts';
import { TRACKING_RECORD_WRITERS } from './tracking/tracking-record-writers.ts';
import { STEP_COUNT_WRITER } from './db/step-count-writer.ts';
import { createFunnel, type Funnel } from './create-funnel.ts';
import { createAdminRouter } from './http/admin-routes.ts';
import { createAdminService } from './http/admin-service.ts';
import { createHttpApp } from './http/create-http-app.ts';
import { startJobLoop } from './jobs/start-job-loop.ts';
import { type Listening, listen } from './http/serve.ts';
import { createLogger } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';
import { createFlowCompiler } from './runtime/compile-pool.ts';
import { createConversationHost, type Dispatch, type DispatchResult } from './runtime/conversation-host.ts';
import { createEffectRunner, type EffectRunner } from './runtime/effect-runner.ts';
import { createFlowSource } from './runtime/flow-source.ts';
import { startOutboxSweeper } from './runtime/outbox-sweeper.ts';
import { startTimerPoller } from './runtime/timer-poller.ts';
import { type Polling, startPolling } from './bot/poll-updates.ts';
import { createBotRegistrar } from './bot/register-bot.ts';

export type { BotRegistration } from './bot/register-bot.ts';
import {
  createMemoryFlowChangeBus,
  createRedisFlowChangeBus,
  type FlowChangeBus,
} from './stores/flow-change-bus.ts';
import { createShardOwnership } from './runtime/shard-ownership.ts';
import { createFlowPublisher } from './runtime/publish-flow.ts';
import { createReadinessCheck } from './http/check-readiness.ts';
import { listPolledBots } from './bot/list-polled-bots.ts';
import { createUnblockOnBuyerInput } from './bot/unblock-on-buyer-input.ts';
import { createRuntimeObservers } from './runtime/observe-runtime.ts';
import type { BootstrapOptions, BotflowApp } from './botflow-app.ts';

export type { BootstrapOptions, BotflowApp } from './botflow-app.ts';

/** How long a cluster worker waits before running the pending effects of shards it just took. */
const HANDOVER_GRACE_MS = 2000;
/**
 * How long done-marks wait for a group commit to ride before they are recorded alone: long enough
 * that under load (commits batched and lingering) almost all ride one; an effect whose mark a crash
 * loses runs again, as any effect not yet marked does.
 */
const DONE_MARK_LINGER_MS = 200;

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
    // Payments, tracking and the funnel step counts write their records inside the group commit.
    const store = createConversationStore(db.orm, {
      recordWriters: [...PAYMENT_RECORD_WRITERS, ...TRACKING_RECORD_WRITERS, STEP_COUNT_WRITER],
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

    // One worker owns every shard; a cluster worker those the primary gives it.
    const shards = createShardOwnership({
      claim: (fresh) => store.claimShards(fresh, workerId),
      onDropped: (shard) => host.dropShard(shard),
      // The new shards' pending effects (left by a crash, a restart or their previous owner) run here.
      // One worker runs them before start returns; a cluster worker first lets the previous owner
      // finish what it was running for them (its queued ones it leaves: see the runner's `owns`).
      onTaken: async () => {
        if (options.ownAllShards === false) outboxSweeper.sweepIn(HANDOVER_GRACE_MS);
        else await outboxSweeper.sweepOnce().catch(() => {});
      },
    });
    const owned = shards.owned;

    const observers = createRuntimeObservers({
      metrics,
      logger,
      hostStats: () => ({ activeActors: host.activeActors, queued: host.queued }),
      ...(options.onDispatched === undefined ? {} : { onDispatched: options.onDispatched }),
    });
    const host = createConversationHost({
      store,
      flows: source,
      now,
      stepsRecordKind: STEP_COUNT_WRITER.kind,
      epochOf: shards.epochOf,
      ...observers.host,
      onInput: (input) => unblockOnBuyerInput(input),
      onTimerStarted: (dueAt) => timers.noteDue(dueAt),
      onApplied: (input, result) => funnel.rememberCommitted({ ...input, created: result.created }),
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
    const funnel: Funnel = createFunnel({
      config,
      orm: db.orm,
      dispatch,
      flows: source,
      logger,
      metrics,
      now,
      redisPrefix: options.redisPrefix ?? config.redisPrefix,
      baseUrl: () => listening?.url ?? `http://127.0.0.1:${config.port}`,
      owns: shards.ownsConversation,
      ownedShards: owned,
      epochOf: shards.epochOfConversation,
    });
    const bots = funnel.bots;
    const unblockOnBuyerInput = createUnblockOnBuyerInput(funnel.apis);
    let polling: Polling | undefined;
    const effects: EffectRunner = createEffectRunner({
      handlers: { ...funnel.effectHandlers, ...options.effectHandlers },
      outbox,
      dispatch,
      now,
      ...(options.effectRetry === undefined ? {} : { retry: options.effectRetry }),
      owns: (effect) => shards.ownsConversation(effect.botId, effect.userId),
      onStoreOutage: (error) => outboxSweeper.noticeOutage(error),
      ...observers.effects,
    });
    const outboxSweeper = startOutboxSweeper({
      read: (shards, at, limit) => outbox.pending(shards, at, limit),
      runner: effects,
      shards: owned,
      now,
      intervalMs: options.outboxSweepMs ?? 5000,
      ...observers.sweeper,
    });
    const timers = startTimerPoller({
      store,
      host,
      shards: owned,
      now,
      intervalMs: options.timerIntervalMs ?? 1000,
      ...observers.timers,
    });

    if (options.ownAllShards !== false) await shards.set(Array.from({ length: SHARD_COUNT }, (_, i) => i));

    const publishFlow = createFlowPublisher({
      compiler,
      flows,
      invalidate: (botId) => source.invalidate(botId),
      broadcast: (botId) => bus.publish(botId),
      logger,
    });

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
        // The webhook and the ad redirect are matched first: they take nearly every request.
        routers: [...funnel.routers, admin],
        notReady: createReadinessCheck({ shuttingDown: () => shuttingDown, ping: () => sql('select 1') }),
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
        listBots: () => listPolledBots(bots),
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
      setOwnedShards: shards.set,
      owns: shards.owns,
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
