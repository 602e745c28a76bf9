/**
 * The two routes that take nearly every request, `POST /telegram/:botId` and `GET /r/:slug`, served on
 * node:http directly, ahead of the Koa app: every other request goes to Koa's callback. Koa's
 * per-request context, middleware chain and router matching cost more than these routes' own work, so
 * here a request is matched by its path prefix, answered from a `HotAnswer`, counted on metric children
 * bound once per route, and any error is answered by `mapErrorToResponse`, as Koa's routes are.
 */
import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import type { Counter, Histogram } from 'prom-client';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.ts';
import { mapErrorToResponse } from './map-error-to-response.ts';
import type { TelegramWebhook } from './telegram-routes.ts';
import type { TrackingRedirect } from './tracking-routes.ts';

/** What a hot route answers: status, headers and the whole body. */
export interface HotAnswer {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string;
}

/** A route's metric children, bound once: the duration histogram, and a counter per status seen. */
interface RouteMetrics {
  label: string;
  duration: Histogram.Internal<'route'>;
  requests: Map<number, Counter.Internal>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The single path segment after `prefix` (matched case-insensitively, one trailing `/` allowed),
 * percent-decoded as the router did; null when the path is not `prefix` and one segment.
 */
function segmentAfter(path: string, prefix: string): string | null {
  if (path.length <= prefix.length || path.slice(0, prefix.length).toLowerCase() !== prefix) return null;
  const end = path.endsWith('/') ? path.length - 1 : path.length;
  const segment = path.slice(prefix.length, end);
  if (segment === '' || segment.includes('/')) return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Creates the request listener: the hot routes, then `fallback` (the Koa app) for everything else. */
export function createHotRoutes(options: {
  telegram: TelegramWebhook;
  redirect: TrackingRedirect;
  metrics: Metrics;
  logger: Logger;
  fallback: RequestListener;
}): RequestListener {
  const { metrics, logger } = options;
  const bind = (label: string): RouteMetrics => ({
    label,
    duration: metrics.httpDuration.labels(label),
    requests: new Map(),
  });
  const telegramMetrics = bind('/telegram/:botId');
  const redirectMetrics = bind('/r/:slug');

  /**
   * Writes the answer with its Content-Length (headers written first would otherwise make it
   * chunked); a response that cannot be written (a gone client) only closes its socket.
   */
  const send = (res: ServerResponse, answer: HotAnswer): void => {
    try {
      answer.headers['content-length'] = Buffer.byteLength(answer.body);
      res.writeHead(answer.status, answer.headers).end(answer.body);
    } catch {
      res.destroy();
    }
  };
  /** Records the request in the route's metrics (and the debug log, when it is on). */
  const record = (route: RouteMetrics, method: string | undefined, status: number, started: number) => {
    const seconds = (performance.now() - started) / 1000;
    let counter = route.requests.get(status);
    if (counter === undefined) {
      counter = metrics.httpRequests.labels(route.label, String(status));
      route.requests.set(status, counter);
    }
    counter.inc();
    route.duration.observe(seconds);
    if (logger.isLevelEnabled('debug'))
      logger.debug({ method, route: route.label, status, ms: seconds * 1000 }, 'http');
  };
  /** Serves one request with `answer`; whatever it throws is mapped by the one error mapping. */
  const serve = (
    route: RouteMetrics,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    answer: () => Promise<HotAnswer>,
  ): void => {
    const started = performance.now();
    void answer()
      .catch((thrown: unknown): HotAnswer => {
        const error = mapErrorToResponse(thrown, logger, path);
        const headers = { ...error.headers, 'content-type': JSON_TYPE };
        return { status: error.status, headers, body: JSON.stringify(error.body) };
      })
      .then((answered) => {
        send(res, answered);
        record(route, req.method, answered.status, started);
      })
      .catch(() => res.destroy());
  };
  /** A hot path asked with another method: 405, as Koa's router answered. */
  const refuseMethod = (route: RouteMetrics, req: IncomingMessage, res: ServerResponse, allow: string) =>
    serve(route, req, res, '', async () => ({
      status: 405,
      headers: { allow, 'content-type': 'text/plain; charset=utf-8' },
      body: 'Method Not Allowed',
    }));

  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const botId = segmentAfter(path, '/telegram/');
    if (botId !== null) {
      if (req.method !== 'POST') return refuseMethod(telegramMetrics, req, res, 'POST');
      return serve(telegramMetrics, req, res, path, async () => ({
        status: 200,
        headers: { 'content-type': JSON_TYPE },
        body: JSON.stringify(await options.telegram(botId, req)),
      }));
    }
    const slug = segmentAfter(path, '/r/');
    if (slug !== null) {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return refuseMethod(redirectMetrics, req, res, 'HEAD, GET');
      return serve(redirectMetrics, req, res, path, () =>
        options.redirect(slug, query === -1 ? '' : url.slice(query + 1), req),
      );
    }
    return options.fallback(req, res);
  };
}
