/**
 * The webhook benchmark's second baseline, "the same funnel built the usual way", run as its own
 * process: grammY behind `webhookCallback(bot, 'http')`, `sequentialize` per chat (@grammyjs/runner),
 * and the VIP funnel as one `@grammyjs/conversations` conversation stored in Redis
 * (@grammyjs/storage-redis): the welcome photo and the e-mail question, a retry on a wrong e-mail, the
 * offers, then on the button the callback answer, a charge at the sandbox gateway and its QR photo
 * (`qrcode`'s `toBuffer`, as such a bot renders it). Reads BENCH_API_ROOT, BENCH_TOKEN, BENCH_SECRET,
 * BENCH_REDIS_URL, BENCH_PREFIX, BENCH_SANDBOX_URL, BENCH_SANDBOX_KEY; tells its parent the port it serves.
 */
import {
  type Conversation,
  type ConversationFlavor,
  conversations,
  createConversation,
} from '@grammyjs/conversations';
import { sequentialize } from '@grammyjs/runner';
import { RedisAdapter } from '@grammyjs/storage-redis';
import { Bot, type Context, InlineKeyboard, InputFile, webhookCallback } from 'grammy';
import { Redis } from 'ioredis';
import QRCode from 'qrcode';
import { sandboxChargeRequest } from './sandbox-charge.ts';
import { benchBotInfo } from './bench-bot-info.ts';
import { serveBenchBot } from './serve-bench-bot.ts';

type FunnelContext = ConversationFlavor<Context>;

const env = (name: string) => process.env[name] ?? '';
const token = env('BENCH_TOKEN');
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const botInfo = benchBotInfo(token, 'bench_conversations_bot');

const redis = new Redis(env('BENCH_REDIS_URL'));
const bot = new Bot<FunnelContext>(token, { botInfo, client: { apiRoot: env('BENCH_API_ROOT') } });

/** Opens the PIX charge of one buyer at the sandbox gateway; returns its BR Code. */
async function openCharge(orderId: string): Promise<string> {
  const { url, headers, body } = sandboxChargeRequest(orderId);
  const res = await fetch(url, { method: 'POST', headers, body });
  if (!res.ok) throw new Error(`the sandbox answered ${res.status}`);
  return ((await res.json()) as { br_code: string }).br_code;
}

/** The VIP funnel up to the charge, as one conversation. */
async function funnel(conversation: Conversation<FunnelContext, Context>, ctx: Context) {
  await ctx.replyWithPhoto('https://example.com/welcome.jpg', { caption: 'Oi! Que bom ter você aqui. 🔥' });
  await ctx.reply('Qual é o seu melhor e-mail?');
  for (let attempt = 1; attempt < 3; attempt++) {
    const answer = await conversation.waitFor('message:text');
    if (EMAIL.test(answer.message.text)) break;
    await answer.reply('Não parece um e-mail válido. Tente de novo:');
  }
  await ctx.reply('Escolha o seu plano:', {
    reply_markup: new InlineKeyboard().text('VIP Mensal', 'plan:0').row().text('VIP Vitalício', 'plan:1'),
  });
  const press = await conversation.waitFor('callback_query:data');
  await press.answerCallbackQuery();
  const orderId = `${press.from.id}:${press.callbackQuery.id}`;
  const brCode = await conversation.external(() => openCharge(orderId));
  const png = await QRCode.toBuffer(brCode, { type: 'png', width: 384, margin: 2 });
  await press.api.sendPhoto(press.from.id, new InputFile(png, 'pix.png'), {
    caption: `<b>Grupo VIP - 30 dias</b>\nR$ 29,90\n\nPIX copia e cola:\n<code>${brCode}</code>`,
    parse_mode: 'HTML',
    reply_markup: new InlineKeyboard().text('Já paguei', 'paid'),
  });
}

bot.use(sequentialize((ctx: Context) => String(ctx.from?.id ?? ctx.chat?.id ?? '')));
bot.use(
  conversations({
    storage: {
      type: 'key',
      prefix: `${env('BENCH_PREFIX')}:conv:`,
      // The buyer, not the chat: the benchmark's callback queries carry no message (so no chat).
      getStorageKey: (ctx) => (ctx.from === undefined ? undefined : String(ctx.from.id)),
      adapter: new RedisAdapter({ instance: redis, ttl: 3600 }),
    },
  }),
);
bot.use(createConversation(funnel, 'funnel'));
bot.command('start', (ctx) => ctx.conversation.enter('funnel'));

serveBenchBot('conversations-bot', webhookCallback(bot, 'http', { secretToken: env('BENCH_SECRET') }), () =>
  redis.disconnect(),
);
