/**
 * Test helper for gateway end-to-end tests: botflow bootstrapped on a fresh Postgres database and a
 * random Redis prefix, a fake Bot API, one bot on a given payment gateway running the VIP funnel, and
 * `buy(userId)` driving a buyer through the Telegram webhook up to a created charge.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import type { GatewaySettings } from '../../src/db/bot-repository.ts';
import type { PaymentRecord } from '../../src/db/payment-repository.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const vip: unknown = JSON.parse(
  readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'),
);

/** A running app with one VIP bot. */
export interface VipApp {
  app: BotflowApp;
  fake: FakeBotApi;
  botId: string;
  token: string;
  /** /start, an e-mail, the first offer: resolves with the payment once its charge exists. */
  buy(userId: number): Promise<PaymentRecord>;
  /** The invite links the bot sent to `userId` in a confirmation message. */
  invitesSentTo(userId: number): string[];
  close(): Promise<void>;
}

/** Starts the app with bot `botId` whose payments go through `gateway`. */
export async function startVipApp(botId: string, gateway: GatewaySettings): Promise<VipApp> {
  const fresh: FreshDatabase = await createFreshDatabase();
  const fake = await startFakeBotApi({ retryBaseMs: 20 });
  const numericId = 7200000000 + Math.floor(Math.random() * 1000000);
  const token = `${numericId}:AAtest-${randomBytes(8).toString('hex')}`;
  fake.addBot({ token, id: numericId, username: `${botId}_test_bot` });
  const app = await bootstrap({
    env: {
      DATABASE_URL: fresh.url,
      REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'silent',
    },
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: `bf-test-${randomBytes(4).toString('hex')}`,
  });
  await app.addBot({ id: botId, token, gateway });
  await app.publishFlow(botId, vip);
  const secret = (await app.funnel.settingsOf(botId))!.webhookSecret;
  let updateId = 1;

  const post = (update: Record<string, unknown>) =>
    fetch(`${app.url}/telegram/${botId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify({ update_id: updateId++, ...update }),
    }).then(async (res) => {
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    });
  const from = (userId: number) => ({ id: userId, is_bot: false, first_name: 'T' });
  const say = (userId: number, text: string) =>
    post({
      message: {
        message_id: updateId,
        date: 1,
        chat: { id: userId, type: 'private' },
        from: from(userId),
        text,
      },
    });

  return {
    app,
    fake,
    botId,
    token,
    async buy(userId) {
      await say(userId, '/start');
      await say(userId, `buyer${userId}@example.com`);
      await post({
        callback_query: {
          id: `q${updateId}`,
          from: from(userId),
          chat_instance: 'x',
          data: encodeCallbackData({ version: 1, step: 'offers', index: 0 }),
        },
      });
      await app.effects.idle();
      const rows = await createSql(app.db.orm)<{ order_id: string }>(
        'select order_id from payments where bot_id = $1 and user_id = $2 order by created_at desc limit 1',
        [botId, userId],
      );
      const payment = rows[0] === undefined ? null : await app.funnel.payments.get(rows[0].order_id);
      if (payment === null || payment.gatewayChargeId === null) throw new Error('no charge was created');
      return payment;
    },
    invitesSentTo(userId) {
      return fake
        .callsOf(token, 'sendMessage')
        .filter((c) => Number(c.params['chat_id']) === userId && c.status === 200)
        .flatMap((c) => /https:\/\/t\.me\/\+\S+/.exec(String(c.params['text'])) ?? []);
    },
    async close() {
      await app.close();
      await fake.close();
      await fresh.drop();
    },
  };
}
