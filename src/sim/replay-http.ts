/**
 * The plumbing shared by the gateway replay servers (Mercado Pago, PushinPay): a loopback JSON server
 * that records every request, scripted failures, and at-least-once webhook delivery with retries, so
 * each replay file only describes its gateway's documented shapes.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { computeBackoff } from '../runtime/compute-backoff.ts';

/** One API request as the replay server saw it. */
export interface ReplayRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An answer: a status and a JSON body. */
export interface ReplayReply {
  status: number;
  body: unknown;
}

/** One webhook delivery attempt and its outcome. */
export interface ReplayDelivery {
  url: string;
  attempt: number;
  status: number | 'error';
  headers: Record<string, string>;
  body: string;
}

/** A running loopback server plus webhook delivery. */
export interface ReplayServer {
  url: string;
  /** Every API request, oldest first. */
  lastRequests: ReplayRequest[];
  deliveries: ReplayDelivery[];
  /** Answers the next `times` API requests with `status` and `body`, like an outage would. */
  injectError(e: { status: number; times?: number; body?: unknown }): void;
  /** POSTs a webhook, retrying a failed delivery with doubling backoff. */
  deliver(url: string, headers: Record<string, string>, body: string): void;
  /** Resolves when every queued delivery has finished (delivered or given up). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Starts the server on 127.0.0.1, port 0, answering with `handle`. */
export async function startReplayServer(
  handle: (request: ReplayRequest) => Promise<ReplayReply> | ReplayReply,
  options: { retryBaseMs?: number; maxAttempts?: number; errorBody?: (status: number) => unknown } = {},
): Promise<ReplayServer> {
  const lastRequests: ReplayRequest[] = [];
  const deliveries: ReplayDelivery[] = [];
  const injected: Array<{ status: number; times: number; body?: unknown }> = [];
  const pending = new Set<Promise<void>>();
  const stopping = new AbortController();
  const retryBaseMs = options.retryBaseMs ?? 20;
  const maxAttempts = options.maxAttempts ?? 4;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const send = (reply: ReplayReply) => {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply.body));
      };
      const url = new URL(req.url ?? '/', 'http://replay');
      const request: ReplayRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      lastRequests.push(request);
      if (size > MAX_BODY_BYTES) return send({ status: 413, body: { message: 'payload too large' } });
      const fault = injected[0];
      if (fault !== undefined) {
        if (--fault.times <= 0) injected.shift();
        return send({ status: fault.status, body: fault.body ?? options.errorBody?.(fault.status) ?? {} });
      }
      Promise.resolve()
        .then(() => handle(request))
        .then(send, (error: unknown) =>
          send({ status: 500, body: { message: error instanceof Error ? error.message : 'internal error' } }),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  async function post(url: string, headers: Record<string, string>, body: string) {
    for (let attempt = 1; attempt <= maxAttempts && !stopping.signal.aborted; attempt++) {
      let status: number | 'error';
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(10_000)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        status = res.status;
      } catch {
        status = 'error';
      }
      deliveries.push({ url, attempt, status, headers, body });
      if (typeof status === 'number' && status >= 200 && status < 300) return;
      await new Promise((resolve) => setTimeout(resolve, computeBackoff(attempt, retryBaseMs)));
    }
  }

  return {
    url: `http://127.0.0.1:${port}`,
    lastRequests,
    deliveries,
    injectError: (e) => injected.push({ status: e.status, times: e.times ?? 1, body: e.body }),
    deliver(url, headers, body) {
      const job = post(url, headers, body).finally(() => pending.delete(job));
      pending.add(job);
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      stopping.abort();
      await Promise.allSettled([...pending]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
