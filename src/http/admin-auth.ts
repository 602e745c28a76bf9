/**
 * Guards the admin API with a bearer token compared in constant time (over SHA-256 digests, so the
 * length does not leak). Without a configured token the admin API does not exist (404), never open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { BotflowError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Creates the guard for `token` (undefined: admin API disabled). */
export function adminAuth(token: string | undefined): Middleware {
  const expected = token === undefined ? undefined : digest(token);
  return async (ctx, next) => {
    if (expected === undefined) throw new BotflowError('NOT_FOUND', 'the admin API is disabled');
    const header = ctx.get('authorization');
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (given === '' || !timingSafeEqual(digest(given), expected)) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new BotflowError('UNAUTHORIZED', 'a valid admin bearer token is required');
    }
    await next();
  };
}
