/**
 * A local stand-in for Meta's Graph API (`POST /<version>/<pixel>/events`) on loopback: validates
 * requests the way Meta does (one bad event rejects the whole request), records accepted events, and
 * injects errors on demand. Used by tests, the demo and benchmarks instead of the internet.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running fake. */
export interface FakeGraphApi {
  url: string;
  /** Accepted events by pixel id. */
  events: Map<string, Array<Record<string, unknown>>>;
  /** The access token each accepted event arrived with, by `event_id` (whose credentials sent it). */
  tokensByEvent: Map<string, string>;
  /** Answers the next `times` requests with this HTTP status and Meta error code. */
  injectError(error: { status: number; code: number; message?: string; times?: number }): void;
  close(): Promise<void>;
}

const CUSTOMER_FIELDS = [
  'em',
  'ph',
  'fn',
  'ln',
  'ct',
  'st',
  'zp',
  'country',
  'external_id',
  'client_ip_address',
  'client_user_agent',
  'fbc',
  'fbp',
];

function invalid(event: unknown, nowSeconds: number): string | null {
  if (typeof event !== 'object' || event === null) return 'event must be an object';
  const e = event as Record<string, unknown>;
  if (typeof e['event_name'] !== 'string' || e['event_name'] === '') return 'event_name is required';
  if (typeof e['event_time'] !== 'number') return 'event_time is required';
  if (e['event_time'] > nowSeconds + 60) return 'event_time is in the future';
  if (nowSeconds - e['event_time'] > 7 * 86400) return 'event_time is more than 7 days old';
  if (typeof e['action_source'] !== 'string') return 'action_source is required';
  const ud = e['user_data'];
  if (typeof ud !== 'object' || ud === null || !CUSTOMER_FIELDS.some((f) => f in ud)) {
    return 'user_data needs at least one customer information parameter';
  }
  if (e['action_source'] === 'website' && !('client_user_agent' in ud))
    return 'website events need client_user_agent';
  if (e['action_source'] === 'website' && typeof e['event_source_url'] !== 'string')
    return 'website events need event_source_url';
  return null;
}

/** Starts the fake. `tokens` are the access tokens it accepts. */
export async function startFakeGraphApi(options: {
  tokens: string[];
  now?: () => number;
}): Promise<FakeGraphApi> {
  const now = options.now ?? Date.now;
  const events = new Map<string, Array<Record<string, unknown>>>();
  const tokensByEvent = new Map<string, string>();
  const injected: Array<{ status: number; code: number; message: string; times: number }> = [];
  let traces = 0;
  const reply = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const metaError = (message: string, code: number, subcode?: number) => ({
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(subcode === undefined ? {} : { error_subcode: subcode }),
      fbtrace_id: `trace${++traces}`,
    },
  });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = /^\/v\d+\.\d+\/([0-9A-Za-z_]+)\/events$/.exec(req.url?.split('?')[0] ?? '');
      if (req.method !== 'POST' || match === null)
        return reply(res, 404, metaError('Unknown path components', 2500));
      const fault = injected[0];
      if (fault !== undefined) {
        fault.times -= 1;
        if (fault.times <= 0) injected.shift();
        return reply(res, fault.status, metaError(fault.message, fault.code));
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return reply(res, 400, metaError('Invalid JSON', 100));
      }
      const token = body['access_token'] ?? new URL(req.url!, 'http://x').searchParams.get('access_token');
      if (typeof token !== 'string' || !options.tokens.includes(token)) {
        return reply(res, 400, metaError('Invalid OAuth access token - Cannot parse access token', 190));
      }
      const data = typeof body['data'] === 'string' ? (JSON.parse(body['data']) as unknown) : body['data'];
      if (!Array.isArray(data) || data.length < 1 || data.length > 1000) {
        return reply(res, 400, metaError('data must be an array of 1 to 1000 events', 100));
      }
      for (const [i, event] of data.entries()) {
        const problem = invalid(event, now() / 1000);
        if (problem !== null)
          return reply(res, 400, metaError(`Invalid parameter: event ${i}: ${problem}`, 100, 2804003));
      }
      const list = events.get(match[1]!) ?? [];
      list.push(...(data as Array<Record<string, unknown>>));
      events.set(match[1]!, list);
      for (const event of data as Array<Record<string, unknown>>)
        tokensByEvent.set(String(event['event_id']), token);
      reply(res, 200, { events_received: data.length, messages: [], fbtrace_id: `trace${++traces}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events,
    tokensByEvent,
    injectError: (e) =>
      injected.push({
        status: e.status,
        code: e.code,
        message: e.message ?? 'injected',
        times: e.times ?? 1,
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
