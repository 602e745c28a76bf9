/**
 * The Koa application every route but the hot two (`hot-routes.ts`) lives in: the error mapping,
 * per-route metrics, the routers given (in their order), then `/healthz`, `/readyz`, `/metrics`.
 */
import { Router } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { BotflowError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { errorMiddleware } from './error-middleware.ts';

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  /** Null when ready; otherwise the coded reason (SHUTTING_DOWN, STORE_UNAVAILABLE). */
  notReady(): Promise<BotflowError | null>;
  routers: Router[];
  /** The `/metrics` text (default: this process's registry; a cluster worker answers for the cluster). */
  exposition?(): Promise<string>;
}

/** Builds the app. */
export function createHttpApp(options: HttpAppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      options.metrics.httpRequests.inc({ route, status: String(ctx.status) });
      options.metrics.httpDuration.observe({ route }, seconds);
      options.logger.debug({ method: ctx.method, route, status: ctx.status, ms: seconds * 1000 }, 'http');
    }
  });
  app.use(errorMiddleware(options.logger));

  const health = new Router();
  health.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  health.get('/readyz', async (ctx) => {
    const reason = await options.notReady();
    if (reason !== null) throw reason;
    ctx.body = { status: 'ready' };
  });
  health.get('/metrics', async (ctx) => {
    ctx.type = options.metrics.registry.contentType;
    ctx.body = await (options.exposition?.() ?? options.metrics.registry.metrics());
  });
  for (const router of [...options.routers, health]) app.use(router.routes()).use(router.allowedMethods());
  return app;
}
