/**
 * botflow's HTTP server: the funnel's routes (webhooks, tracking links, payments, the console) and the
 * admin API, with `/healthz`, `/readyz` (not ready while shutting down or while the database does not
 * answer) and `/metrics`.
 */
import type { Logger } from 'pino';
import type { Funnel } from './create-funnel.ts';
import { createAdminRouter } from './http/admin-routes.ts';
import type { AdminService } from './http/admin-routes.ts';
import { createReadinessCheck } from './http/check-readiness.ts';
import { createHttpApp } from './http/create-http-app.ts';
import { createHotRoutes } from './http/hot-routes.ts';
import { type Listening, listen } from './http/serve.ts';
import type { Metrics } from './observability/metrics.ts';

/** Listens on `port` and `host`; rejects (PORT_IN_USE) when it cannot. */
export function serveBotflowHttp(options: {
  admin: AdminService;
  adminToken: string | undefined;
  funnel: Pick<Funnel, 'telegramWebhook' | 'trackingRedirect' | 'routers'>;
  logger: Logger;
  metrics: Metrics;
  /** What `/metrics` serves. */
  exposition(): Promise<string>;
  shuttingDown(): boolean;
  /** A query the database must answer for `/readyz`. */
  ping(): Promise<unknown>;
  port: number;
  host: string;
}): Promise<Listening> {
  const http = createHttpApp({
    logger: options.logger,
    metrics: options.metrics,
    exposition: options.exposition,
    routers: [...options.funnel.routers, createAdminRouter(options.admin, options.adminToken)],
    notReady: createReadinessCheck({ shuttingDown: options.shuttingDown, ping: options.ping }),
  });
  // The webhook and the ad redirect take nearly every request: they are answered before Koa.
  const hot = createHotRoutes({
    telegram: options.funnel.telegramWebhook,
    redirect: options.funnel.trackingRedirect,
    metrics: options.metrics,
    logger: options.logger,
    fallback: http.callback(),
  });
  return listen(hot, { port: options.port, host: options.host });
}
