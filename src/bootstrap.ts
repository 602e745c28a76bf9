/**
 * Starts botflow in-process and returns handles, so the CLI, tests and benchmarks run the real thing:
 * the database (Postgres, or embedded PGlite) and its stores, the conversation runtime with the
 * funnel's edges (start-runtime.ts), flow publishing, bot registration, the HTTP server, the periodic
 * jobs and, for development, long polling. The composition root: it wires parts and runs none of a
 * request's logic. One worker owns every shard here; the cluster layer runs one of these per worker
 * with its own shards.
 */
import { listPolledBots } from './bot/list-polled-bots.ts';
import { type Polling, startPolling } from './bot/poll-updates.ts';
import { createBotRegistrar } from './bot/register-bot.ts';
import type { BootstrapOptions, BotflowApp } from './botflow-app.ts';
import { type Config, loadConfig } from './config.ts';
import { openDatabase } from './db/open-database.ts';
import { createSql } from './db/sql-client.ts';
import { createAdminService } from './http/admin-service.ts';
import type { Listening } from './http/serve.ts';
import { startJobLoop } from './jobs/start-job-loop.ts';
import { createLogger } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';
import { openStores } from './open-stores.ts';
import { createFlowCompiler } from './runtime/compile-pool.ts';
import { SHARD_COUNT } from './runtime/shard.ts';
import { serveBotflowHttp } from './serve-botflow-http.ts';
import { startRuntime } from './start-runtime.ts';

export type { BotRegistration } from './bot/register-bot.ts';
export type { BootstrapOptions, BotflowApp } from './botflow-app.ts';

/** Starts botflow. */
export async function bootstrap(options: BootstrapOptions = {}): Promise<BotflowApp> {
  const config: Config = { ...loadConfig(options.env ?? process.env), ...options.config };
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  const redisPrefix = options.redisPrefix ?? config.redisPrefix;
  let shuttingDown = false;
  let listening: Listening | undefined;
  let polling: Polling | undefined;
  let exposition = (): Promise<string> => metrics.registry.metrics();
  const db = await openDatabase({
    ...(config.databaseUrl === undefined ? {} : { url: config.databaseUrl }),
    dataDir: config.dataDir,
  });
  const compiler = createFlowCompiler();
  try {
    const stores = await openStores({ db, compiler, config, redisPrefix, now, logger });
    const { store, flows, source, bus, publishFlow } = stores;
    const sql = createSql(db.orm);
    const runtime = startRuntime({
      bootstrap: options,
      config,
      db,
      stores,
      logger,
      metrics,
      now,
      workerId: options.workerId ?? `worker-${process.pid}`,
      redisPrefix,
      baseUrl: () => listening?.url ?? `http://127.0.0.1:${config.port}`,
    });
    const { shards, host, funnel, effects, outboxSweeper, timers } = runtime;
    if (options.ownAllShards !== false) await shards.set(Array.from({ length: SHARD_COUNT }, (_, i) => i));

    const addBot = createBotRegistrar({
      apiRoot: config.telegramApiRoot,
      bots: funnel.bots,
      logger,
      forgetBot: (id) => funnel.forgetBot(id),
      baseUrl: () => config.publicUrl ?? listening?.url,
      polling: () => polling,
    });

    if (options.http !== false) {
      listening = await serveBotflowHttp({
        admin: createAdminService({ addBot, funnel, flows, store, publishFlow, polling: () => polling }),
        adminToken: config.adminToken,
        funnel,
        logger,
        metrics,
        exposition: () => exposition(),
        shuttingDown: () => shuttingDown,
        ping: () => sql('select 1'),
        port: options.http?.port ?? config.port,
        host: options.http?.host ?? '127.0.0.1',
      }).catch(async (error: unknown) => {
        await runtime.abort();
        await bus.close();
        throw error;
      });
    }

    const jobs = startJobLoop(() => funnel.runJobs(), options.jobsIntervalMs ?? 5000, logger);
    if (options.polling !== undefined && options.polling !== false) {
      polling = await startPolling({
        ...(options.polling === true ? {} : options.polling),
        apiRoot: config.telegramApiRoot,
        listBots: () => listPolledBots(funnel.bots),
        handle: funnel.handleUpdate,
        logger,
      });
    }

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
      reclaimShards: shards.reclaim,
      owns: shards.owns,
      inject: (botId, userId, event, inputKey) =>
        host.dispatch({ botId, userId, event, ...(inputKey === undefined ? {} : { inputKey }) }),
      addBot,
      funnel,
      polling,
      dispatch: runtime.dispatch,
      setMetricsSource: (next) => void (exposition = next),
      setRouter: runtime.setRouter,
      runJobs: () => funnel.runJobs(),
      publishFlow,
      async close() {
        shuttingDown = true;
        // Stop fetching first: the updates being handled still commit, the rest stay with Telegram.
        await polling?.stop();
        await listening?.close(options.httpCloseTimeoutMs);
        await jobs.stop();
        await runtime.drain(options.drainTimeoutMs ?? 5000);
        await compiler.close();
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
