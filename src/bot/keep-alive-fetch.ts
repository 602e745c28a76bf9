/**
 * The transport grammY's `Api` clients call the Bot API through (its `fetch` client option): undici's
 * `request` over one keep-alive connection pool per process, in place of grammY's default node-fetch
 * v2, which cost about twice the CPU per call. grammY reads only `json()` of what `fetch` answers; the
 * status, headers and `text()` are there for anything else that looks.
 */
import { Agent, request } from 'undici';

/** The fetch grammY is given, and the pool under it (closed on shutdown). */
export interface KeepAliveFetch {
  fetch: typeof fetch;
  close(): Promise<void>;
}

/** What grammY passes to `fetch`: its own fields (`agent`, `compress`, `duplex`) are node-fetch's and are ignored here. */
interface GrammyFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | NodeJS.ReadableStream;
  signal?: unknown;
}

/** Creates the pool: at most `connections` sockets per origin, idle ones kept `keepAliveMs` (default 30 s). */
export function createKeepAliveFetch(
  options: { connections?: number; keepAliveMs?: number } = {},
): KeepAliveFetch {
  const agent = new Agent({
    connections: options.connections ?? 128,
    keepAliveTimeout: options.keepAliveMs ?? 30_000,
    keepAliveMaxTimeout: Math.max(options.keepAliveMs ?? 30_000, 60_000),
  });
  const call = async (url: string | URL, init: GrammyFetchInit = {}) => {
    const answer = await request(url, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers,
      body: init.body as string | undefined,
      // grammY's abort signal is a polyfill; undici's request accepts any signal with addEventListener.
      signal: init.signal as AbortSignal | undefined,
      dispatcher: agent,
    });
    return {
      ok: answer.statusCode >= 200 && answer.statusCode < 300,
      status: answer.statusCode,
      headers: answer.headers,
      json: () => answer.body.json(),
      text: () => answer.body.text(),
    };
  };
  return { fetch: call as unknown as typeof fetch, close: () => agent.close() };
}
