/**
 * The tracking link, `GET /r/:slug` (served by the hot routes). Captures the ad click (fbclid whole,
 * `_fbc`/`_fbp` read or built and set as first-party cookies, IP, user agent, UTMs), stores it under
 * a fresh token, and redirects to `https://t.me/<bot>?start=<token>`, the only place it can redirect
 * to. A presell link of a bot with a Meta pixel answers the presell page instead, which continues to
 * the same link.
 */
import { randomBytes, randomFillSync, randomInt } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BotflowError } from '../errors.ts';
import type { HotAnswer } from './hot-routes.ts';
import type { TrackingStore } from '../stores/tracking-store.ts';
import { buildBotRedirect, buildStartRedirect, type ClickPayload, captureClick } from '../tracking/click.ts';
import { eventIdFor } from '../tracking/conversion-event.ts';
import { renderPresellPage } from '../tracking/presell-page.ts';

/** What a slug leads to. */
export interface TrackingLinkTarget {
  botId: string;
  botUsername: string;
  campaign: string | null;
  /** Show the presell page (when the bot has a pixel). */
  presell?: boolean;
}

export interface TrackingRedirectOptions {
  linkOf(slug: string): Promise<TrackingLinkTarget | null>;
  tracking: TrackingStore;
  ttlSeconds: number;
  /** Read the client IP from X-Forwarded-For (only behind a trusted proxy). */
  trustProxy: boolean;
  now(): number;
  /** The bot's Meta pixel id, or null (a presell page needs one). */
  pixelIdOf?(botId: string): Promise<string | null>;
  /**
   * Called for each captured click while it is being stored (the PageView conversion, event id
   * `eventIdFor('PageView', token)`; a page view that happened, even when the click store is down).
   */
  onClick?(token: string, click: ClickPayload): Promise<void>;
  /** Called when the click could not be stored and the buyer was sent to the bot without it. */
  onClickLost?(botId: string, error: BotflowError): void;
}

const SLUG = /^[A-Za-z0-9_-]{1,64}$/;
/** The query parameters a click keeps (`captureClick` reads no other). */
const CLICK_PARAMS = [
  'fbclid',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'src',
  'sck',
];

/** The click's query parameters (the first value of each), without building an object of them all. */
function clickQuery(querystring: string): Record<string, string> {
  const params = new URLSearchParams(querystring);
  const out: Record<string, string> = {};
  for (const name of CLICK_PARAMS) {
    const value = params.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}
/** Click tokens are cut from one block of random bytes, refilled when used up (one syscall per 256 clicks). */
const TOKEN_BYTES = 16;
const POOL = Buffer.alloc(TOKEN_BYTES * 256);
let poolOffset = POOL.length;

/** A fresh 32-hex click token. */
function generateToken(): string {
  if (poolOffset >= POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  poolOffset += TOKEN_BYTES;
  return POOL.toString('hex', poolOffset - TOKEN_BYTES, poolOffset);
}

/** The `_fbc`/`_fbp` cookies as the browser sent them (raw, as Koa's `cookies.get` read them). */
const COOKIE_PATTERNS = { _fbc: /(?:^|;) *_fbc=([^;]*)/, _fbp: /(?:^|;) *_fbp=([^;]*)/ };

/** The first address of an X-Forwarded-For header (the client, as the trusted proxy saw it). */
const firstHop = (header: string | string[] | undefined): string | undefined =>
  (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();

/** The value of cookie `name` in a Cookie header (unquoted), or undefined. */
function readCookie(header: string | undefined, name: keyof typeof COOKIE_PATTERNS): string | undefined {
  if (!header) return undefined;
  const value = COOKIE_PATTERNS[name].exec(header)?.[1];
  return value !== undefined && value[0] === '"' ? value.slice(1, -1) : value;
}

/** A first-party cookie as the answer sets it: path `/`, an expiry, SameSite=Lax, readable by the Pixel. */
function formatCookie(cookie: { name: string; value: string; maxAgeSeconds: number }, now: number): string {
  const expires = new Date(now + cookie.maxAgeSeconds * 1000).toUTCString();
  return `${cookie.name}=${cookie.value}; path=/; expires=${expires}; samesite=lax`;
}

/** A 302 to `location` (always a validated t.me link), with a short text body. */
function redirectTo(location: string, headers: HotAnswer['headers']): HotAnswer {
  return {
    status: 302,
    headers: { ...headers, location, 'content-type': 'text/plain; charset=utf-8' },
    body: `Redirecting to ${location}.`,
  };
}

/** Answers one click: the slug from the path, the query string after `?` (or ''). */
export type TrackingRedirect = (
  slug: string,
  querystring: string,
  req: IncomingMessage,
) => Promise<HotAnswer>;

/** Creates the redirect. */
export function createTrackingRedirect(options: TrackingRedirectOptions): TrackingRedirect {
  return async (slug, querystring, req) => {
    const link = SLUG.test(slug) ? await options.linkOf(slug) : null;
    if (link === null) throw new BotflowError('NOT_FOUND', 'no such tracking link');
    const headers = req.headers;
    const forwarded = options.trustProxy ? firstHop(headers['x-forwarded-for']) : undefined;
    const ip = forwarded || req.socket.remoteAddress?.replace(/^::ffff:/, '');
    const userAgent = headers['user-agent'];
    const now = options.now();
    const click = captureClick({
      slug,
      botId: link.botId,
      ...(link.campaign === null ? {} : { campaign: link.campaign }),
      query: clickQuery(querystring),
      cookies: { _fbc: readCookie(headers.cookie, '_fbc'), _fbp: readCookie(headers.cookie, '_fbp') },
      ...(ip ? { ip } : {}),
      ...(userAgent ? { userAgent } : {}),
      now,
      token: generateToken(),
      random10: String(randomInt(1_000_000_000, 10_000_000_000)),
    });
    // Validated before anything is stored: the answer can only lead to this t.me link.
    const target = buildStartRedirect(link.botUsername, click.token);
    // The click and its PageView are written together, each on its own store: the answer waits for
    // the slower, not for their sum.
    const [saved, recorded] = await Promise.allSettled([
      options.tracking.saveClick(click.token, click.payload, options.ttlSeconds),
      options.onClick?.(click.token, click.payload),
    ]);
    if (saved.status === 'rejected') {
      // The click store is down: the buyer still reaches the bot (a plain /start, unattributed),
      // rather than an error page that loses the sale with the click.
      const error: unknown = saved.reason;
      if (!(error instanceof BotflowError) || error.code !== 'STORE_UNAVAILABLE') throw error;
      options.onClickLost?.(link.botId, error);
      return redirectTo(buildBotRedirect(link.botUsername), { 'cache-control': 'no-store' });
    }
    if (recorded.status === 'rejected') throw recorded.reason;
    const answered = {
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      ...(click.setCookies.length === 0
        ? {}
        : { 'set-cookie': click.setCookies.map((cookie) => formatCookie(cookie, now)) }),
    };
    const pixelId = link.presell === true ? await options.pixelIdOf?.(link.botId) : null;
    if (!pixelId) return redirectTo(target, answered);
    const page = renderPresellPage({
      pixelId,
      eventId: eventIdFor('PageView', click.token),
      target,
      nonce: randomBytes(16).toString('base64'),
    });
    return {
      status: 200,
      headers: {
        ...answered,
        'content-security-policy': page.csp,
        'x-content-type-options': 'nosniff',
        'content-type': 'text/html; charset=utf-8',
      },
      body: page.html,
    };
  };
}
