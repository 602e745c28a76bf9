/**
 * The tracking link: `GET /r/:slug`. Captures the ad click (fbclid whole, `_fbc`/`_fbp` read or
 * built and set as first-party cookies, IP, user agent, UTMs), stores it under a fresh token, and
 * redirects to `https://t.me/<bot>?start=<token>`, the only place it can redirect to. A presell link
 * of a bot with a Meta pixel answers the presell page instead, which continues to the same link.
 */
import { randomBytes, randomFillSync, randomInt } from 'node:crypto';
import { Router } from '@koa/router';
import { BotflowError } from '../errors.ts';
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

export interface TrackingRouterOptions {
  linkOf(slug: string): Promise<TrackingLinkTarget | null>;
  tracking: TrackingStore;
  ttlSeconds: number;
  /** Read the client IP from X-Forwarded-For (only behind a trusted proxy). */
  trustProxy: boolean;
  now(): number;
  /** The bot's Meta pixel id, or null (a presell page needs one). */
  pixelIdOf?(botId: string): Promise<string | null>;
  /** Called after the click is stored (the PageView conversion, event id `eventIdFor('PageView', token)`). */
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

/** The click's query parameters (the first value of each), without building Koa's object of them all. */
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

/** Creates the router. */
export function createTrackingRouter(options: TrackingRouterOptions): Router {
  const router = new Router();
  router.get('/r/:slug', async (ctx) => {
    const slug = ctx.params['slug'] ?? '';
    const link = SLUG.test(slug) ? await options.linkOf(slug) : null;
    if (link === null) throw new BotflowError('NOT_FOUND', 'no such tracking link');
    const forwarded = options.trustProxy ? ctx.get('x-forwarded-for').split(',')[0]?.trim() : undefined;
    const ip = forwarded || ctx.req.socket.remoteAddress?.replace(/^::ffff:/, '');
    const userAgent = ctx.get('user-agent');
    const now = options.now();
    const click = captureClick({
      slug,
      botId: link.botId,
      ...(link.campaign === null ? {} : { campaign: link.campaign }),
      query: clickQuery(ctx.querystring),
      cookies: { _fbc: ctx.cookies.get('_fbc'), _fbp: ctx.cookies.get('_fbp') },
      ...(ip ? { ip } : {}),
      ...(userAgent ? { userAgent } : {}),
      now,
      token: generateToken(),
      random10: String(randomInt(1_000_000_000, 10_000_000_000)),
    });
    // Validated before anything is stored: the answer can only lead to this t.me link.
    const target = buildStartRedirect(link.botUsername, click.token);
    try {
      await options.tracking.saveClick(click.token, click.payload, options.ttlSeconds);
    } catch (error) {
      // The click store is down: the buyer still reaches the bot (a plain /start, unattributed),
      // rather than an error page that loses the sale with the click.
      if (!(error instanceof BotflowError) || error.code !== 'STORE_UNAVAILABLE') throw error;
      options.onClickLost?.(link.botId, error);
      ctx.set('cache-control', 'no-store');
      ctx.status = 302;
      ctx.redirect(buildBotRedirect(link.botUsername));
      return;
    }
    for (const cookie of click.setCookies)
      ctx.cookies.set(cookie.name, cookie.value, {
        maxAge: cookie.maxAgeSeconds * 1000,
        httpOnly: false,
        sameSite: 'lax',
        overwrite: true,
      });
    await options.onClick?.(click.token, click.payload);
    ctx.set('cache-control', 'no-store');
    ctx.set('referrer-policy', 'no-referrer');
    const pixelId = link.presell === true ? await options.pixelIdOf?.(link.botId) : null;
    if (pixelId) {
      const page = renderPresellPage({
        pixelId,
        eventId: eventIdFor('PageView', click.token),
        target,
        nonce: randomBytes(16).toString('base64'),
      });
      ctx.set('content-security-policy', page.csp);
      ctx.set('x-content-type-options', 'nosniff');
      ctx.type = 'text/html; charset=utf-8';
      ctx.status = 200;
      ctx.body = page.html;
      return;
    }
    ctx.status = 302;
    ctx.redirect(target);
  });
  return router;
}
