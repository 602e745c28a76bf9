/**
 * `GET /admin/conversions/stats[?bot_id=ID]` (bearer token, like the rest of `/admin`): per event
 * name, sent / pending / dead conversion events and the share of sent ones carrying each match key.
 */
import { Router } from '@koa/router';
import { BotflowError } from '../errors.ts';
import type { ConversionStat } from '../db/conversion-stats.ts';
import { ID_PATTERN } from '../flow/schema.ts';
import { adminAuth } from './admin-auth.ts';

/** Builds the router; `stats` reads the numbers for one bot or all. */
export function createConversionStatsRouter(
  deps: { stats(botId?: string): Promise<ConversionStat[]> },
  adminToken: string | undefined,
): Router {
  const router = new Router({ prefix: '/admin' });
  router.use('/conversions', adminAuth(adminToken));
  router.get('/conversions/stats', async (ctx) => {
    const unknown = Object.keys(ctx.query).filter((k) => k !== 'bot_id');
    if (unknown.length > 0)
      throw new BotflowError(
        'BAD_REQUEST',
        `bad conversions query: ${unknown[0]} is not a parameter of this query`,
      );
    const botId = ctx.query['bot_id'];
    if (botId !== undefined && (typeof botId !== 'string' || !ID_PATTERN.test(botId)))
      throw new BotflowError(
        'BAD_REQUEST',
        'bad conversions query: bot_id must be a bot id (1-64 of A-Za-z0-9_-)',
      );
    ctx.body = { bot_id: botId ?? null, events: await deps.stats(botId) };
  });
  return router;
}
