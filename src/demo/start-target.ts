/**
 * Starts the botflow the demo talks to: one in-process botflow (the default), or a real cluster of
 * W worker processes sharing one port, as `botflow start` runs it, next to an in-process handle that
 * registers the bot and reads the results. A cluster needs Postgres and Redis: the embedded database
 * is one session and the in-process stores are per process.
 */
import type { Logger } from 'pino';
import { type BotflowApp, bootstrap } from '../bootstrap.ts';
import { type PrimaryHandle, startPrimary } from '../cluster/start-primary.ts';
import { loadConfig } from '../config.ts';
import { createSql } from '../db/sql-client.ts';
import { BotflowError } from '../errors.ts';
import { freePort } from '../sim/free-port.ts';

/** What the demo needs from the botflow it runs against. */
export interface DemoTarget {
  /** The in-process botflow: registers bots and flows, and reads the database for the report. */
  app: BotflowApp;
  /** Where buyers click and Telegram (the fake) posts webhooks. */
  url: string;
  workers: number;
  /** The Redis key prefix botflow writes under (the demo removes its keys at the end). */
  redisPrefix: string;
  /** Waits (at most `timeoutMs`) until every effect ran and every conversion event left the outbox. */
  settle(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface DemoTargetOptions {
  workers: number;
  env: Record<string, string | undefined>;
  /** The fake Bot API and fake Graph API roots. */
  telegramApiRoot: string;
  metaGraphUrl: string;
  logger?: Logger;
}

/** Starts the demo's botflow. */
export async function startDemoTarget(options: DemoTargetOptions): Promise<DemoTarget> {
  const logger = options.logger === undefined ? {} : { logger: options.logger };
  if (options.workers === 1) {
    const redisPrefix = `bf-demo-${process.pid}-${Date.now()}`;
    const app = await bootstrap({
      env: { ...options.env, BOTFLOW_WORKERS: '1' },
      config: {
        telegramApiRoot: options.telegramApiRoot,
        metaGraphUrl: options.metaGraphUrl,
        trustProxy: true,
        publicUrl: undefined,
      },
      http: { port: 0 },
      timerIntervalMs: 100,
      jobsIntervalMs: 200,
      // A finished run has settled its effects; an interrupted one must not wait on a closed fake.
      drainTimeoutMs: 1_000,
      httpCloseTimeoutMs: 1_000,
      redisPrefix,
      ...logger,
    });
    return {
      app,
      url: app.url!,
      workers: 1,
      redisPrefix,
      async settle(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        await app.effects.idle();
        while (Date.now() < deadline) {
          await app.runJobs();
          if ((await app.funnel.conversions.counts()).pending === 0) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      close: () => app.close(),
    };
  }

  const config = loadConfig(options.env);
  if (config.databaseUrl === undefined || config.redisUrl === undefined)
    throw new BotflowError(
      'BAD_REQUEST',
      '--workers above 1 needs DATABASE_URL and REDIS_URL: the embedded database and in-process stores serve one process',
    );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const shared = {
    ...options.env,
    PORT: String(port),
    BOTFLOW_WORKERS: String(options.workers),
    BOTFLOW_PUBLIC_URL: url,
    TELEGRAM_API_ROOT: options.telegramApiRoot,
    META_GRAPH_URL: options.metaGraphUrl,
    BOTFLOW_TRUST_PROXY: 'true',
    BOTFLOW_REDIS_PREFIX: `demo-${Date.now().toString(36)}-${process.pid}`,
    LOG_LEVEL: options.env['LOG_LEVEL'] ?? 'warn',
  };
  // The in-process handle owns no conversations and runs no loops: it registers and reads.
  const app = await bootstrap({
    env: shared,
    http: false,
    ownAllShards: false,
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    ...logger,
  });
  let primary: PrimaryHandle | undefined;
  try {
    primary = await startPrimary({ workers: options.workers, env: shared, workerStdout: 'stderr' });
    await primary.settled();
  } catch (error) {
    await primary?.stop().catch(() => {});
    await app.close();
    throw error;
  }
  const sql = createSql(app.db.orm);
  const running = primary;
  return {
    app,
    url,
    workers: options.workers,
    redisPrefix: shared.BOTFLOW_REDIS_PREFIX,
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const [row] = await sql<{ effects: string }>(
          `select count(*)::text as effects from effects where status = 'pending'`,
        );
        const conversions = await app.funnel.conversions.counts();
        if (Number(row?.effects ?? 0) === 0 && conversions.pending === 0) return;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async close() {
      await running.stop();
      await app.close();
    },
  };
}
