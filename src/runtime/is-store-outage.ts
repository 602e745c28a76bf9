/**
 * Tells a store outage (Postgres or Redis unreachable) from every other failure, so the runtime can
 * wait it out instead of counting it against an effect: an outage is about the store, never about the
 * effect, and it ends by itself.
 */
import { BotflowError } from '../errors.ts';

/** Socket-level failures of a connection to a store. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Postgres SQLSTATEs for a server that is going away, starting, or full (class 08: connection exception). */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

/** What `pg` and `ioredis` say when a connection drops or cannot be made. */
const CONNECTION_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|connection is closed|client has encountered a connection error|socket (?:closed|hang up)/i;

/**
 * True when `error` says a store could not be reached: a coded error by its code alone (its boundary
 * already classified it: Telegram or a gateway unreachable is UPSTREAM_FAILED, not an outage); an
 * uncoded one (a driver's own error) by its or its causes' connection codes and messages.
 */
export function isStoreOutage(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; depth++) {
    if (e instanceof BotflowError) return e.code === 'STORE_UNAVAILABLE';
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08'))
    )
      return true;
    if (CONNECTION_MESSAGE.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}
