/**
 * The admin API (`/admin`, bearer token): bots; flows (save a draft, validate, publish a new
 * immutable version, list versions); and a look at one conversation (step, version, pending timers).
 */
import { Router } from '@koa/router';
import { z } from 'zod';
import { BotflowError } from '../errors.ts';
import type { TrackingLinkRecord } from '../db/tracking-link-repository.ts';
import { ID_PATTERN } from '../flow/schema.ts';
import type { ValidationResult } from '../flow/validate.ts';
import type { BotRecord } from '../db/bot-repository.ts';
import { PAYMENT_STATUSES, type PaymentStatus } from '../db/entities/payment.ts';
import type { FlowRecord, FlowVersionRecord } from '../db/flow-repository.ts';
import { adminAuth } from './admin-auth.ts';
import { readJsonBody } from './read-json-body.ts';

/** What the admin API needs from the running app. */
export interface AdminService {
  /** The stored bot, with a `warning` when Telegram cannot reach its webhook. */
  addBot(bot: z.infer<typeof botBody>): Promise<BotRecord & { warning?: string }>;
  addLink(link: {
    slug: string;
    botId: string;
    campaign: string | null;
    presell: boolean;
  }): Promise<TrackingLinkRecord>;
  listLinks(botId?: string): Promise<TrackingLinkRecord[]>;
  removeLink(slug: string): Promise<boolean>;
  /** A bot's payments, newest first, as the operator sees them (no secrets, no BR Codes). */
  listPayments(filter: {
    botId: string;
    userId?: string;
    status?: PaymentStatus;
    limit: number;
  }): Promise<unknown[]>;
  /** Refunds a paid order at its gateway (all, or `amountCents`); a full refund takes the access back. */
  refundPayment(orderId: string, amountCents?: number): Promise<{ status: string }>;
  /** Changes a link's campaign or presell flag; null when there is no such link. */
  updateLink(
    slug: string,
    change: { campaign?: string | null; presell?: boolean },
  ): Promise<TrackingLinkRecord | null>;
  listBots(): Promise<BotRecord[]>;
  /** Changes a bot's gateway, pixel or invite-link mode without registering it again; null if unknown. */
  updateBot(id: string, change: z.infer<typeof botChangeBody>): Promise<BotRecord | null>;
  removeBot(id: string): Promise<boolean>;
  saveDraft(flow: { id: string; botId: string; name: string; draft: unknown }): Promise<FlowRecord>;
  getFlow(id: string): Promise<FlowRecord | null>;
  validate(definition: unknown): ValidationResult;
  publish(flowId: string): Promise<FlowVersionRecord>;
  listVersions(flowId: string): Promise<FlowVersionRecord[]>;
  inspectConversation(botId: string, userId: string): Promise<unknown | null>;
}

const LIMIT = 1024 * 1024;
const url = z.url({ protocol: /^https?$/ });
const gatewayBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('sandbox'),
    api_base: url,
    api_key: z.string().min(1),
    webhook_secret: z.string().min(8),
  }),
  z.strictObject({
    kind: z.literal('mercadopago'),
    access_token: z.string().min(1),
    webhook_secret: z.string().min(8),
    api_base: url.optional(),
  }),
  z.strictObject({
    kind: z.literal('pushinpay'),
    token: z.string().min(1),
    webhook_token: z.string().min(8),
    api_base: url.optional(),
  }),
]);
const pixelBody = z.strictObject({
  pixel_id: z.string().regex(/^\d{1,32}$/),
  access_token: z.string().min(1),
  test_event_code: z.string().min(1).optional(),
  action_source: z.enum(['chat', 'website']).optional(),
  /** Per-field switches of the hashed user_data (issue 18): em, ph, external_id default on; fn, ln off. */
  user_data: z
    .strictObject({
      em: z.boolean().optional(),
      ph: z.boolean().optional(),
      fn: z.boolean().optional(),
      ln: z.boolean().optional(),
      external_id: z.boolean().optional(),
    })
    .optional(),
});
const botBody = z.strictObject({
  id: z.string().regex(ID_PATTERN),
  username: z
    .string()
    .regex(/^[A-Za-z0-9_]{5,32}$/)
    .optional(),
  token: z.string().regex(/^\d+:[A-Za-z0-9_-]{20,}$/, 'a Telegram bot token'),
  gateway: gatewayBody.optional(),
  /** false: paid orders get `member_limit: 1` links instead of join-request links. */
  join_requests: z.boolean().optional(),
  pixel: pixelBody.optional(),
});
const botChangeBody = z
  .strictObject({
    gateway: gatewayBody.optional(),
    pixel: pixelBody.nullable().optional(),
    join_requests: z.boolean().optional(),
  })
  .refine(
    (b) => b.gateway !== undefined || b.pixel !== undefined || b.join_requests !== undefined,
    'give gateway, pixel or join_requests',
  );
const linkBody = z.strictObject({
  slug: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  bot_id: z.string().regex(ID_PATTERN),
  campaign: z.string().max(200).optional(),
  presell: z.boolean().optional(),
});
const linkChangeBody = z
  .strictObject({ campaign: z.string().max(200).nullable().optional(), presell: z.boolean().optional() })
  .refine((b) => b.campaign !== undefined || b.presell !== undefined, 'give campaign or presell');
const refundBody = z.strictObject({ amount_cents: z.number().int().min(1).optional() });
/**
 * A query parameter's rule as its error: missing, repeated, or breaking `rule`, each message says
 * which (the field itself is named by the issue's path).
 */
const rule = (text: string) => ({
  error: (issue: { input?: unknown }) =>
    issue.input === undefined ? 'is required' : Array.isArray(issue.input) ? 'must be given once' : text,
});
const BOT_ID_RULE = 'must be 1-64 of A-Za-z0-9_-';
const LIMIT_RULE = 'must be an integer from 1 to 500';
const paymentsQuery = z.strictObject({
  bot_id: z.string(rule(BOT_ID_RULE)).regex(ID_PATTERN, BOT_ID_RULE),
  user_id: z
    .string(rule('must be a Telegram user id (1-19 digits)'))
    .regex(/^\d{1,19}$/, 'must be a Telegram user id (1-19 digits)')
    .optional(),
  status: z.enum(PAYMENT_STATUSES, rule(`must be one of ${PAYMENT_STATUSES.join(', ')}`)).optional(),
  limit: z
    .string(rule(LIMIT_RULE))
    .regex(/^\d{1,3}$/, LIMIT_RULE)
    .transform(Number)
    .refine((n) => n >= 1 && n <= 500, LIMIT_RULE)
    .default(50),
});
const linksQuery = z.strictObject({
  bot_id: z.string(rule(BOT_ID_RULE)).regex(ID_PATTERN, BOT_ID_RULE).optional(),
});

/**
 * Reads a route's query string by its schema; BAD_REQUEST names each bad parameter and its rule
 * (`limit must be an integer from 1 to 500`), in the message and in `details`.
 */
function readQuery<T>(query: unknown, schema: z.ZodType<T>, what: string): T {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: key, message: 'is not a parameter of this query' }))
      : [{ path: issue.path.join('.'), message: issue.message }],
  );
  throw new BotflowError(
    'BAD_REQUEST',
    `bad ${what} query: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
    { details: problems },
  );
}
const draftBody = z.strictObject({
  bot_id: z.string().regex(ID_PATTERN),
  name: z.string().optional(),
  definition: z.unknown(),
});

/** Builds the admin router. */
export function createAdminRouter(service: AdminService, adminToken: string | undefined): Router {
  const router = new Router({ prefix: '/admin' });
  router.use(adminAuth(adminToken));

  router.get('/bots', async (ctx) => {
    ctx.body = { bots: await service.listBots() };
  });
  router.post('/bots', async (ctx) => {
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT, schema: botBody });
    ctx.status = 201;
    ctx.body = { bot: await service.addBot(value) };
  });
  router.patch('/bots/:id', async (ctx) => {
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT, schema: botChangeBody });
    const bot = await service.updateBot(ctx.params['id']!, value);
    if (bot === null) throw new BotflowError('NOT_FOUND', 'no such bot');
    ctx.body = { bot };
  });
  router.delete('/bots/:id', async (ctx) => {
    if (!(await service.removeBot(ctx.params['id']!))) throw new BotflowError('NOT_FOUND', 'no such bot');
    ctx.status = 204;
  });

  router.get('/tracking-links', async (ctx) => {
    const { bot_id: botId } = readQuery(ctx.query, linksQuery, 'tracking links');
    ctx.body = { links: await service.listLinks(botId) };
  });
  router.post('/tracking-links', async (ctx) => {
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT, schema: linkBody });
    ctx.status = 201;
    ctx.body = {
      link: await service.addLink({
        slug: value.slug,
        botId: value.bot_id,
        campaign: value.campaign ?? null,
        presell: value.presell ?? false,
      }),
    };
  });
  router.get('/payments', async (ctx) => {
    const { bot_id: botId, user_id: userId, status, limit } = readQuery(ctx.query, paymentsQuery, 'payments');
    ctx.body = {
      payments: await service.listPayments({
        botId,
        limit,
        ...(userId === undefined ? {} : { userId }),
        ...(status === undefined ? {} : { status }),
      }),
    };
  });
  router.post('/payments/:orderId/refund', async (ctx) => {
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT, schema: refundBody });
    ctx.body = await service.refundPayment(ctx.params['orderId']!, value.amount_cents);
  });
  router.patch('/tracking-links/:slug', async (ctx) => {
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT, schema: linkChangeBody });
    const link = await service.updateLink(ctx.params['slug']!, {
      ...(value.campaign === undefined ? {} : { campaign: value.campaign }),
      ...(value.presell === undefined ? {} : { presell: value.presell }),
    });
    if (link === null) throw new BotflowError('NOT_FOUND', 'no such link');
    ctx.body = { link };
  });
  router.delete('/tracking-links/:slug', async (ctx) => {
    if (!(await service.removeLink(ctx.params['slug']!))) throw new BotflowError('NOT_FOUND', 'no such link');
    ctx.status = 204;
  });

  router.put('/flows/:id', async (ctx) => {
    const id = ctx.params['id']!;
    if (!ID_PATTERN.test(id)) throw new BotflowError('BAD_REQUEST', 'a flow id is 1-64 of A-Za-z0-9_-');
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT, schema: draftBody });
    const flow = await service.saveDraft({
      id,
      botId: value.bot_id,
      name: value.name ?? id,
      draft: value.definition,
    });
    ctx.body = { flow, validation: service.validate(value.definition) };
  });
  router.get('/flows/:id', async (ctx) => {
    const flow = await service.getFlow(ctx.params['id']!);
    if (flow === null) throw new BotflowError('NOT_FOUND', 'no such flow');
    ctx.body = { flow };
  });
  router.post('/flows/validate', async (ctx) => {
    const { value } = await readJsonBody(ctx.req, { limitBytes: LIMIT });
    ctx.body = service.validate(value);
  });
  router.post('/flows/:id/publish', async (ctx) => {
    ctx.status = 201;
    ctx.body = { version: await service.publish(ctx.params['id']!) };
  });
  router.get('/flows/:id/versions', async (ctx) => {
    ctx.body = { versions: await service.listVersions(ctx.params['id']!) };
  });

  router.get('/bots/:botId/conversations/:userId', async (ctx) => {
    const found = await service.inspectConversation(ctx.params['botId']!, ctx.params['userId']!);
    if (found === null) throw new BotflowError('NOT_FOUND', 'no such conversation');
    ctx.body = found;
  });
  return router;
}
