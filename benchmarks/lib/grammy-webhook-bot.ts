/**
 * The webhook benchmark's baseline, run as its own process like a botflow worker: a stateless grammY
 * bot behind `webhookCallback(bot, 'http')` that answers every update with one `sendMessage` to the
 * fake Bot API. Reads BENCH_API_ROOT, BENCH_TOKEN, BENCH_SECRET; tells its parent the port it serves.
 */
import { Bot, webhookCallback } from 'grammy';
import { benchBotInfo } from './bench-bot-info.ts';
import { serveBenchBot } from './serve-bench-bot.ts';

const token = process.env['BENCH_TOKEN'] ?? '';
const botInfo = benchBotInfo(token, 'bench_grammy_bot');
const bot = new Bot(token, { botInfo, client: { apiRoot: process.env['BENCH_API_ROOT'] ?? '' } });
bot.use(async (ctx) => {
  await ctx.api.sendMessage(ctx.from?.id ?? 0, 'ok');
});
serveBenchBot(
  'grammy-webhook-bot',
  webhookCallback(bot, 'http', { secretToken: process.env['BENCH_SECRET'] ?? '' }),
);
