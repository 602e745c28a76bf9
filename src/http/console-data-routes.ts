/**
 * The JSON behind the operator's console (`/admin`, bearer token or console session): the overview
 * for 1 / 7 / 30 days, campaigns, one buyer, the published flow versions, a version's funnel (step
 * counts, drops, the Mermaid diagram `botflow compile --format mermaid` draws) and its machine JSON.
 */
import { Router } from '@koa/router';
import { BotflowError } from '../errors.ts';
import type { Overview } from '../db/read-overview.ts';
import type { FunnelStep } from '../db/read-funnel.ts';
import { compileFlow } from '../flow/compile.ts';
import { emitMermaid } from '../flow/emit-mermaid.ts';
import { ID_PATTERN } from '../flow/schema.ts';
import { adminAuth, type SessionCheck } from './admin-auth.ts';

/** What the console's JSON needs from the running app. */
export interface ConsoleData {
  overview(query: { days: number; botId?: string }): Promise<Overview>;
  campaigns(query: { days: number; botId?: string }): Promise<unknown>;
  buyer(botId: string, userId: string): Promise<Record<string, unknown> | null>;
  flowVersions(): Promise<unknown[]>;
  funnel(query: {
    flowId: string;
    version: number;
    days: number;
  }): Promise<{ definition: unknown; steps: FunnelStep[] } | null>;
}

const DAYS = [1, 7, 30];

/** The `days` and `bot_id` of a query (days default 7; only 1, 7 or 30). */
function readWindow(query: Record<string, unknown>): { days: number; botId?: string } {
  const unknown = Object.keys(query).filter((k) => k !== 'days' && k !== 'bot_id');
  if (unknown.length > 0)
    throw new BotflowError('BAD_REQUEST', `${unknown[0]} is not a parameter of this query`);
  const days = query['days'] === undefined ? 7 : Number(query['days']);
  if (!DAYS.includes(days)) throw new BotflowError('BAD_REQUEST', 'days must be 1, 7 or 30');
  const botId = query['bot_id'];
  if (botId === undefined) return { days };
  if (typeof botId !== 'string' || !ID_PATTERN.test(botId))
    throw new BotflowError('BAD_REQUEST', 'bot_id must be a bot id (1-64 of A-Za-z0-9_-)');
  return { days, botId };
}

/** A flow id and version from the path. */
function readVersion(params: Record<string, string | undefined>): { flowId: string; version: number } {
  const flowId = params['flowId'] ?? '';
  const version = Number(params['version']);
  if (!ID_PATTERN.test(flowId) || !Number.isInteger(version) || version < 1)
    throw new BotflowError('BAD_REQUEST', 'a flow id and a positive version are required');
  return { flowId, version };
}

/** Builds the router. */
export function createConsoleDataRouter(
  data: ConsoleData,
  adminToken: string | undefined,
  session?: SessionCheck,
): Router {
  const router = new Router({ prefix: '/admin' });
  const guard = adminAuth(adminToken, session);
  router.get('/overview', guard, async (ctx) => {
    ctx.body = await data.overview(readWindow(ctx.query));
  });
  router.get('/campaigns', guard, async (ctx) => {
    const window = readWindow(ctx.query);
    ctx.body = { days: window.days, ...((await data.campaigns(window)) as object) };
  });
  router.get('/buyers/:botId/:userId', guard, async (ctx) => {
    const { botId, userId } = ctx.params as Record<string, string>;
    if (!ID_PATTERN.test(botId!) || !/^\d{1,19}$/.test(userId!))
      throw new BotflowError('BAD_REQUEST', 'a bot id and a numeric Telegram user id are required');
    const buyer = await data.buyer(botId!, userId!);
    if (buyer === null) throw new BotflowError('NOT_FOUND', 'this bot never saw that user');
    ctx.body = buyer;
  });
  router.get('/flow-versions', guard, async (ctx) => {
    ctx.body = { versions: await data.flowVersions() };
  });
  router.get('/flows/:flowId/versions/:version/funnel', guard, async (ctx) => {
    const { days } = readWindow(ctx.query);
    const { flowId, version } = readVersion(ctx.params);
    const funnel = await data.funnel({ flowId, version, days });
    if (funnel === null) throw new BotflowError('NOT_FOUND', 'no such flow version');
    const mermaid = emitMermaid(compileFlow(funnel.definition).config);
    ctx.body = { flow_id: flowId, version, days, steps: funnel.steps, mermaid };
  });
  router.get('/flows/:flowId/versions/:version/machine', guard, async (ctx) => {
    const { flowId, version } = readVersion(ctx.params);
    const funnel = await data.funnel({ flowId, version, days: 1 });
    if (funnel === null) throw new BotflowError('NOT_FOUND', 'no such flow version');
    ctx.set('Content-Disposition', `attachment; filename="${flowId}-v${version}.machine.json"`);
    ctx.type = 'application/json';
    ctx.body = `${JSON.stringify(compileFlow(funnel.definition).config, null, 2)}\n`;
  });
  return router;
}
