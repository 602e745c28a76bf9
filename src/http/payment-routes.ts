/**
 * The payment gateway webhook: `POST /payments/:botId/webhook`. The raw body goes to the bot's
 * gateway adapter for verification (a forged one is 401 and changes nothing); the answer is 200
 * once the confirmed outcome is committed, a 5xx when it could not be (the gateway retries), a 404
 * for a bot or charge that is not ours.
 */
import { Router } from '@koa/router';
import { BotflowError } from '../errors.ts';
import { ID_PATTERN } from '../flow/schema.ts';
import type { WebhookRequest } from '../payments/gateway.ts';
import { readRawBody } from './read-json-body.ts';

/** Creates the router. An unknown bot is a coded 404 (NOT_FOUND), so the gateway stops retrying. */
export function createPaymentRouter(options: {
  handleWebhook(botId: string, request: WebhookRequest): Promise<{ status: string }>;
  limitBytes?: number;
}): Router {
  const router = new Router();
  router.post('/payments/:botId/webhook', async (ctx) => {
    const botId = ctx.params['botId'] ?? '';
    // No bot can have such an id (bots are added with ID_PATTERN ids): nothing to look up.
    if (!ID_PATTERN.test(botId)) throw new BotflowError('NOT_FOUND', 'no such bot');
    const rawBody = await readRawBody(ctx.req, options.limitBytes ?? 256 * 1024);
    const query: Record<string, string | string[] | undefined> = { ...ctx.query };
    ctx.body = await options.handleWebhook(botId, {
      headers: ctx.headers,
      query,
      rawBody,
    });
  });
  return router;
}
