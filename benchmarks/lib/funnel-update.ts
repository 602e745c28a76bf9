/**
 * The webhook scenario's updates, shared by the benchmarks that drive it (webhook, sql-per-update),
 * so both measure the same four inputs per user on the same bot.
 */
import { readFileSync } from 'node:fs';
import type { BotflowApp } from '../../src/botflow-app.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';

const VIP = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

/** The k-th update (0-3) of a user: /start, a wrong e-mail, an e-mail, the first offer button. */
export function updateOf(user: number, k: number, button: string, updateId: number): Record<string, unknown> {
  const from = { id: user, is_bot: false, first_name: 'Bench' };
  if (k === 3)
    return {
      update_id: updateId,
      callback_query: { id: `q${user}_${updateId}`, from, chat_instance: 'bench', data: button },
    };
  const text = ['/start', 'not an e-mail', `user${user}@example.com`][k]!;
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1,
      chat: { id: user, type: 'private' },
      from,
      text,
      // As Telegram marks a command (grammY's `command` routes on it).
      ...(k === 0 ? { entities: [{ type: 'bot_command', offset: 0, length: text.length }] } : {}),
    },
  };
}

/** What a bench bot needs to be driven: its flow version's offer button and its webhook secret. */
export interface BenchBot {
  button: string;
  secret: string;
}

/**
 * Registers the bench bot (sandbox gateway) and publishes the VIP flow on a running botflow, so
 * every benchmark drives the same bot the same way.
 */
export async function addBenchBot(
  app: Pick<BotflowApp, 'addBot' | 'publishFlow' | 'funnel'>,
  bot: { id: string; token: string; username: string; sandboxUrl: string },
): Promise<BenchBot> {
  await app.addBot({
    id: bot.id,
    token: bot.token,
    username: bot.username,
    gateway: {
      kind: 'sandbox',
      api_base: bot.sandboxUrl,
      api_key: 'bench-key',
      webhook_secret: 'bench-secret',
    },
  });
  const version = await app.publishFlow(bot.id, VIP);
  const secret = (await app.funnel.settingsOf(bot.id))!.webhookSecret;
  return { button: encodeCallbackData({ version, step: 'offers', index: 0 }), secret };
}
