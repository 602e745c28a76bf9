/**
 * The webhook benchmark's floor: a stateless grammY bot that makes, for each update, the same outside
 * calls botflow's VIP funnel makes, through the same clients, and keeps nothing. /start: the welcome
 * photo (by URL) and the e-mail question; a text: the retry, or the offers once it is an e-mail; the
 * offer button: the callback answer as a webhook reply, a sandbox charge (undici `request`) and its QR
 * photo (`encodeQrPng`, one buffered multipart body over the keep-alive pool). What botflow costs above
 * this bot is the cost of its state: the durable commit, the outbox and the flow engine. Reads
 * BENCH_API_ROOT, BENCH_TOKEN, BENCH_SECRET, BENCH_SANDBOX_URL, BENCH_SANDBOX_KEY; tells its parent the
 * port it serves.
 */
import { Bot, InlineKeyboard, webhookCallback } from 'grammy';
import { request } from 'undici';
import { BufferedFile, createBufferedUploads } from '../../src/bot/buffered-uploads.ts';
import { createKeepAliveFetch } from '../../src/bot/keep-alive-fetch.ts';
import { encodeQrPng } from '../../src/payments/encode-qr-png.ts';
import { sandboxChargeRequest } from './sandbox-charge.ts';
import { benchBotInfo } from './bench-bot-info.ts';
import { serveBenchBot } from './serve-bench-bot.ts';

const env = (name: string) => process.env[name] ?? '';
const token = env('BENCH_TOKEN');
const apiRoot = env('BENCH_API_ROOT');
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const botInfo = benchBotInfo(token, 'bench_same_calls_bot');

const transport = createKeepAliveFetch();
const bot = new Bot(token, {
  botInfo,
  client: {
    apiRoot,
    fetch: transport.fetch,
    canUseWebhookReply: (method) => method === 'answerCallbackQuery',
  },
});
bot.api.config.use(
  createBufferedUploads({ urlOf: (method) => `${apiRoot}/bot${token}/${method}`, fetch: transport.fetch }),
);

/** Opens one buyer's PIX charge at the sandbox gateway; returns its BR Code. */
async function openCharge(orderId: string): Promise<string> {
  const { url, headers, body } = sandboxChargeRequest(orderId);
  const answer = await request(url, { method: 'POST', headers, body });
  const text = await answer.body.text();
  if (answer.statusCode !== 201 && answer.statusCode !== 200)
    throw new Error(`the sandbox answered ${answer.statusCode}`);
  return (JSON.parse(text) as { br_code: string }).br_code;
}

bot.command('start', async (ctx) => {
  await ctx.replyWithPhoto('https://example.com/welcome.jpg', { caption: 'Oi! Que bom ter você aqui. 🔥' });
  await ctx.reply('Qual é o seu melhor e-mail?');
});
bot.on('message:text', async (ctx) => {
  if (!EMAIL.test(ctx.message.text)) {
    await ctx.reply('Não parece um e-mail válido. Tente de novo:');
    return;
  }
  await ctx.reply('Escolha o seu plano:', {
    reply_markup: new InlineKeyboard().text('VIP Mensal', 'plan:0').row().text('VIP Vitalício', 'plan:1'),
  });
});
bot.on('callback_query:data', async (ctx) => {
  await ctx.answerCallbackQuery();
  const brCode = await openCharge(`${ctx.from.id}:${ctx.callbackQuery.id}`);
  await ctx.api.sendPhoto(
    ctx.from.id,
    new BufferedFile(encodeQrPng(brCode, { width: 384, margin: 2 }), 'pix.png'),
    {
      caption: `<b>Grupo VIP - 30 dias</b>\nR$ 29,90\n\nPIX copia e cola:\n<code>${brCode}</code>`,
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard().text('Já paguei', 'paid'),
    },
  );
});

serveBenchBot('same-calls-bot', webhookCallback(bot, 'http', { secretToken: env('BENCH_SECRET') }), () => {
  void transport.close();
});
