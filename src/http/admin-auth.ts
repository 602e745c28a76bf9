/**
 * Guards the admin API with a bearer token compared in constant time (over SHA-256 digests, so the
 * length does not leak). Without a configured token the admin API does not exist (404), never open.
 * Reads (GET) may instead carry a console session cookie, when the console's `session` check is given.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { BotflowError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether a `Cookie` header carries a valid console session. */
export type SessionCheck = (cookieHeader: string | undefined) => boolean;

/** Creates the guard for `token` (undefined: admin API disabled). */
export function adminAuth(token: string | undefined, session?: SessionCheck): Middleware {
  const expected = token === undefined ? undefined : digest(token);
  return async (ctx, next) => {
    if (expected === undefined) throw new BotflowError('NOT_FOUND', 'the admin API is disabled');
    const header = ctx.get('authorization');
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    const bySession = given === '' && ctx.method === 'GET' && session?.(ctx.get('cookie')) === true;
    if (!bySession && (given === '' || !timingSafeEqual(digest(given), expected))) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new BotflowError('UNAUTHORIZED', 'a valid admin bearer token is required');
    }
    await next();
  };
}
