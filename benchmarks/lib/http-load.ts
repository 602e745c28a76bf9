/**
 * The load generator shared by the HTTP benchmarks: `node:http` requests over a keep-alive agent (one
 * socket per concurrent caller), and a loop that runs jobs with a fixed number of callers in flight.
 */
import { Agent, request } from 'node:http';

/** A finished HTTP exchange. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A keep-alive client for `concurrency` callers. */
export function createHttpClient(concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  return {
    /**
     * Sends one request and reads the whole answer. A reset on a reused keep-alive socket (the server
     * closed it idle as the request went out, so nothing of the request was read) is sent again once,
     * as Node's documentation advises: between the webhook bench's rounds a server sits idle past its
     * keep-alive timeout.
     */
    send(
      url: string,
      init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    ): Promise<HttpAnswer> {
      const attempt = (retried: boolean): Promise<HttpAnswer> =>
        new Promise((resolve, reject) => {
          const req = request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            );
            res.on('error', reject);
          });
          req.on('error', (error: NodeJS.ErrnoException) => {
            if (!retried && req.reusedSocket && error.code === 'ECONNRESET') resolve(attempt(true));
            else reject(error);
          });
          req.end(init.body);
        });
      return attempt(false);
    },
    close: () => agent.destroy(),
  };
}

/** Runs `job(0..count-1)` with `concurrency` in flight; returns the wall time in seconds. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  job: (index: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** A wall clock with sub-millisecond resolution (epoch ms), shared by the client and the fake Bot API. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
