/**
 * Console sessions: a random 128-bit session id with its expiry, signed (HMAC-SHA256 under a key
 * derived from the admin token) into an HttpOnly, SameSite=Strict cookie. Any worker of a cluster can
 * check it without shared state; changing the admin token ends every session. No token in URLs.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie's name. */
export const SESSION_COOKIE = 'botflow_console';

/** Issues and checks console sessions. */
export interface ConsoleSessions {
  /** A new session's cookie value. */
  issue(): { value: string; maxAgeSeconds: number };
  /** Whether a `Cookie` header carries a valid, unexpired session. */
  check(cookieHeader: string | undefined): boolean;
}

/** Creates the sessions of `adminToken`, each valid `ttlSeconds` from `now()` (ms). */
export function createConsoleSessions(options: {
  adminToken: string;
  ttlSeconds: number;
  now: () => number;
}): ConsoleSessions {
  const key = createHash('sha256').update(`botflow-console-session\0${options.adminToken}`).digest();
  const sign = (body: string) => createHmac('sha256', key).update(body).digest('base64url');
  return {
    issue() {
      const expires = Math.floor(options.now() / 1000) + options.ttlSeconds;
      const body = `${randomBytes(16).toString('base64url')}.${expires}`;
      return { value: `${body}.${sign(body)}`, maxAgeSeconds: options.ttlSeconds };
    },
    check(cookieHeader) {
      const value = readCookie(cookieHeader, SESSION_COOKIE);
      const parts = value?.split('.') ?? [];
      if (parts.length !== 3) return false;
      const body = `${parts[0]}.${parts[1]}`;
      const given = Buffer.from(parts[2]!);
      const expected = Buffer.from(sign(body));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
      return Number(parts[1]) * 1000 > options.now();
    },
  };
}

/** The value of cookie `name` in a `Cookie` header. */
function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
