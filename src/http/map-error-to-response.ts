/**
 * The one place where errors become HTTP responses, for the Koa app and the hot routes alike: a
 * BotflowError maps to its catalog status and `{ error: { code, message, retryable, details? } }`
 * (retryable 503s carry Retry-After); anything else is a 500 INTERNAL whose message and stack stay in
 * the log, under a request id made only then.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BotflowError } from '../errors.ts';

/** An error as an HTTP answer: status, extra headers, and the JSON body. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: ReturnType<BotflowError['toJSON']> };
}

/** Maps what a request handler threw to its answer; logs what is not a coded client error. */
export function mapErrorToResponse(thrown: unknown, logger: Logger, path: string): ErrorResponse {
  const coded = thrown instanceof BotflowError;
  const error = coded ? thrown : new BotflowError('INTERNAL', 'internal error');
  if (!coded || error.code === 'INTERNAL')
    logger.error({ err: thrown, request_id: randomUUID(), path }, 'request failed');
  return {
    status: error.status,
    headers: error.retryable && error.status === 503 ? { 'Retry-After': '1' } : {},
    body: { error: error.toJSON() },
  };
}
