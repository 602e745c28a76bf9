/**
 * The admin API (`/admin`, bearer token): bots; flows (save a draft, validate, publish a new
 * immutable version, list versions); and a look at one conversation (step, version, pending timers).
 */
import { Router } from '@koa/router';
import { z } from 'zod';
import { BotflowError } from '../errors.ts';
import { ID_PATTERN } from '../flow/schema.ts';
import type { ValidationResult } from '../flow/validate.ts';
import type { BotRecord } from '../db/bot-repository.ts';
import type { FlowRecord, FlowVersionRecord } from '../db/flow-repository.ts';
import { adminAuth } from './admin-auth.ts';
import { readJsonBody } from './read-json-body.ts';

/** What the admin API needs from the running app. */
export interface AdminService {
  addBot(bot: { id: string; username: string; token: string }): Promise<BotRecord>;
  listBots(): Promise<BotRecord[]>;
  removeBot(id: string): Promise<boolean>;
  saveDraft(flow: { id: string; botId: string; name: string; draft: unknown }): Promise<FlowRecord>;
  getFlow(id: string): Promise<FlowRecord | null>;
  validate(definition: unknown): ValidationResult;
  publish(flowId: string): Promise<FlowVersionRecord>;
  listVersions(flowId: string): Promise<FlowVersionRecord[]>;
  inspectConversation(botId: string, userId: string): Promise<unknown | null>;
}

const LIMIT = 1024 * 1024;
const botBody = z.strictObject({
  id: z.string().regex(ID_PATTERN),
  username: z.string().regex(/^[A-Za-z0-9_]{5,32}$/),
  token: z.string().regex(/^\d+:[A-Za-z0-9_-]{20,}$/, 'a Telegram bot token'),
});
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
  router.delete('/bots/:id', async (ctx) => {
    if (!(await service.removeBot(ctx.params['id']!))) throw new BotflowError('NOT_FOUND', 'no such bot');
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
