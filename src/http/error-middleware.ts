/**
 * The Koa app's error mapping: whatever a route throws (and a request no route answered, as
 * NOT_FOUND) is answered through `mapErrorToResponse`, the one mapping every transport route shares.
 */
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { BotflowError } from '../errors.ts';
import { mapErrorToResponse } from './map-error-to-response.ts';

/** Creates the error-mapping middleware (mount it first). */
export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new BotflowError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (thrown) {
      const answer = mapErrorToResponse(thrown, logger, ctx.path);
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = answer.body;
    }
  };
}
