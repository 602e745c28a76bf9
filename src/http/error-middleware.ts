/**
 * The one place where errors become HTTP responses: a BotflowError maps to its catalog status and
 * `{ error: { code, message, retryable, details? } }` (retryable 503s carry Retry-After); anything
 * else is a 500 INTERNAL whose message and stack stay in the log.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { BotflowError } from '../errors.ts';

/** Creates the error-mapping middleware (mount it first). */
export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new BotflowError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (thrown) {
      const coded = thrown instanceof BotflowError;
      const error = coded ? thrown : new BotflowError('INTERNAL', 'internal error');
      if (!coded || error.code === 'INTERNAL') {
        logger.error(
          { err: thrown, request_id: ctx.state['requestId'] ?? randomUUID(), path: ctx.path },
          'request failed',
        );
      }
      ctx.status = error.status;
      if (error.retryable && error.status === 503) ctx.set('Retry-After', '1');
      ctx.body = { error: error.toJSON() };
    }
  };
}
