/**
 * The payment gateway webhook: `POST /payments/:botId/webhook`. The raw body goes to the bot's
 * gateway adapter for verification (a forged one is 401 and changes nothing); the answer is 200
 * once the confirmed outcome is committed, a 5xx when it could not be (the gateway retries).
 */
import { Router } from '@koa/router';
import type { WebhookRequest } from '../payments/gateway.ts';
import { readRawBody } from './read-json-body.ts';

/** Creates the router. */
export function createPaymentRouter(options: {
  handleWebhook(botId: string, request: WebhookRequest): Promise<{ status: string }>;
  limitBytes?: number;
}): Router {
  const router = new Router();
  router.post('/payments/:botId/webhook', async (ctx) => {
    const rawBody = await readRawBody(ctx.req, options.limitBytes ?? 256 * 1024);
    const query: Record<string, string | string[] | undefined> = { ...ctx.query };
    ctx.body = await options.handleWebhook(ctx.params['botId'] ?? '', {
      headers: ctx.headers,
      query,
      rawBody,
    });
  });
  return router;
}
