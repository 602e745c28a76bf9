/**
 * The webhook benchmark's baseline, run as its own process like a botflow worker: a stateless grammY
 * bot behind `webhookCallback(bot, 'http')` that answers every update with one `sendMessage` to the
 * fake Bot API. Reads BENCH_API_ROOT, BENCH_TOKEN, BENCH_SECRET; tells its parent the port it serves.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bot, webhookCallback } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';

const token = process.env['BENCH_TOKEN'] ?? '';
const botInfo = {
  id: Number(token.split(':')[0]),
  is_bot: true,
  first_name: 'Bench',
  username: 'bench_grammy_bot',
  can_join_groups: false,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
} as UserFromGetMe;
const bot = new Bot(token, { botInfo, client: { apiRoot: process.env['BENCH_API_ROOT'] ?? '' } });
bot.use(async (ctx) => {
  await ctx.api.sendMessage(ctx.from?.id ?? 0, 'ok');
});
const handle = webhookCallback(bot, 'http', { secretToken: process.env['BENCH_SECRET'] ?? '' });
const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    // Said once per failed update, so a failed run shows why (the bench then stops on the 500).
    process.stderr.write(`grammy-webhook-bot: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!res.headersSent) res.writeHead(500).end();
  });
});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => {
  server.close();
  server.closeAllConnections();
});
