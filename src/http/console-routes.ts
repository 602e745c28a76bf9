/**
 * The operator's console (`/console`), served when the admin API is on: a login form that posts the
 * admin token and sets a session cookie, then a small page whose client script reads the JSON under
 * `/admin`. Scripts and styles come from src/console and node_modules (no CDN), under a strict CSP.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { BotflowError } from '../errors.ts';
import { type ConsoleSessions, SESSION_COOKIE } from './console-session.ts';
import { readRawBody } from './read-json-body.ts';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // Mermaid writes a <style> element into each diagram it draws; scripts stay 'self' only.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The files the console serves: name → where it is read from and its content type. */
const ASSETS: Record<string, { url: URL; type: string }> = {
  'console.js': {
    url: new URL('../console/console.js', import.meta.url),
    type: 'text/javascript; charset=utf-8',
  },
  'console.css': { url: new URL('../console/console.css', import.meta.url), type: 'text/css; charset=utf-8' },
  'login.css': { url: new URL('../console/console.css', import.meta.url), type: 'text/css; charset=utf-8' },
  'mermaid.min.js': {
    url: new URL('../../node_modules/mermaid/dist/mermaid.min.js', import.meta.url),
    type: 'text/javascript; charset=utf-8',
  },
};
const PAGES = {
  login: new URL('../console/login.html', import.meta.url),
  app: new URL('../console/console.html', import.meta.url),
};

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Sets the headers every console response carries. */
function secure(ctx: Context): void {
  ctx.set('Content-Security-Policy', CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
}

/** Builds the console router; without an admin token there is no console (404). */
export function createConsoleRouter(options: {
  adminToken: string | undefined;
  sessions: ConsoleSessions | undefined;
}): Router {
  const router = new Router({ prefix: '/console' });
  const cache = new Map<string, Buffer>();
  const load = async (url: URL) => {
    const key = url.href;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const body = await readFile(url);
    cache.set(key, body);
    return body;
  };
  router.use(async (ctx, next) => {
    if (options.adminToken === undefined || options.sessions === undefined)
      throw new BotflowError('NOT_FOUND', 'the console is off (no admin token)');
    secure(ctx);
    await next();
  });
  const sessions = options.sessions;
  const expected = options.adminToken === undefined ? undefined : digest(options.adminToken);
  router.get('/', async (ctx) => {
    const page = sessions?.check(ctx.get('cookie')) === true ? PAGES.app : PAGES.login;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = await load(page);
  });
  router.post('/login', async (ctx) => {
    const form = new URLSearchParams((await readRawBody(ctx.req, 4096)).toString('utf8'));
    const token = form.get('token') ?? '';
    ctx.set('Cache-Control', 'no-store');
    if (token === '' || expected === undefined || !timingSafeEqual(digest(token), expected)) {
      ctx.status = 303;
      ctx.redirect('/console?failed=1');
      return;
    }
    const session = sessions!.issue();
    ctx.cookies.set(SESSION_COOKIE, session.value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: ctx.secure,
      path: '/',
      maxAge: session.maxAgeSeconds * 1000,
      overwrite: true,
    });
    ctx.status = 303;
    ctx.redirect('/console');
  });
  router.post('/logout', (ctx) => {
    ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 0 });
    ctx.status = 303;
    ctx.redirect('/console');
  });
  router.get('/assets/:name', async (ctx) => {
    const asset = ASSETS[ctx.params['name'] ?? ''];
    if (asset === undefined) throw new BotflowError('NOT_FOUND', 'no such console asset');
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.type = asset.type;
    ctx.body = await load(asset.url);
  });
  return router;
}
