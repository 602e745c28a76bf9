/**
 * Test harness: botflow bootstrapped on a fresh Postgres database and a random Redis prefix, with the
 * fake Bot API, the fake Graph API and the sandbox gateway (or another gateway, e.g. a replay server),
 * running the VIP funnel (machines/vip-funnel.flow.json). Buyers are driven over real HTTP; botflow's
 * clock can be moved.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BotflowApp } from '../../src/bootstrap.ts';
import { linkNameFor } from '../../src/bot/telegram-effects.ts';
import type { GatewaySettings } from '../../src/db/bot-repository.ts';
import type { PaymentRecord } from '../../src/db/payment-repository.ts';
import { createSql } from '../../src/db/sql-client.ts';
import type { FakeBotApi, RecordedCall } from '../../src/sim/fake-bot-api.ts';
import type { SandboxCharge, SandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { eventIdFor } from '../../src/tracking/conversion-event.ts';
import { startStack } from './start-stack.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

/** The admin API's bearer token in the harness. */
export const ADMIN_TOKEN = 'admin-token-for-vip-funnel-tests';

/** The chat the VIP funnel grants access to. */
export const VIP_CHAT = -1001234567890;

/** A running harness. */
export interface VipFunnel {
  app: BotflowApp;
  fake: FakeBotApi;
  sandbox: SandboxGateway;
  botId: string;
  token: string;
  /** Milliseconds botflow's clock runs ahead of the sandbox's. */
  offset: number;
  /** Posts an update to botflow's Telegram webhook with the bot's secret; the fake runs a webhook reply. */
  post(update: Record<string, unknown>): Promise<Response>;
  say(userId: number, text: string): Promise<Response>;
  press(userId: number, data: string): Promise<Response>;
  /** Drives a buyer to the VIP Mensal charge; returns its order id. */
  checkout(userId: number): Promise<string>;
  /** `checkout`, then the payment once the gateway has its charge. */
  buy(userId: number): Promise<PaymentRecord>;
  /** The invite links the bot sent to `userId` in a confirmation message. */
  invitesSentTo(userId: number): string[];
  /** Waits for every webhook and the effects they caused. */
  settle(): Promise<void>;
  chargeOf(userId: number): SandboxCharge;
  count(fromWhere: string, params: unknown[]): Promise<number>;
  grants(orderId: string): Promise<number>;
  purchases(orderId: string): Promise<number>;
  inviteLinks(orderId: string): number;
  /** Answered (200) calls to the user's private chat. */
  sentTo(userId: number, method?: string): RecordedCall[];
  confirmations(userId: number): RecordedCall[];
  /** Runs botflow's periodic jobs with its clock `ms` ahead. */
  runJobsAt(ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a harness with a bot of token id `botNumber`, named `botId` (default `tbot`), paying through
 * `gateway` (default: the harness's sandbox); `joinRequests: false` gives it `member_limit: 1` invite links.
 */
export async function startVipFunnel(
  botNumber: number,
  options: { botId?: string; gateway?: GatewaySettings; joinRequests?: boolean } = {},
): Promise<VipFunnel> {
  const botId = options.botId ?? 'tbot';
  const harness = { offset: 0 } as VipFunnel;
  const stack = await startStack({
    botId,
    botNumber,
    username: `h${botNumber}_bot`,
    flow: vip,
    pixel: { pixel_id: 'px-harness', access_token: 'meta-token' },
    adminToken: ADMIN_TOKEN,
    now: () => Date.now() + harness.offset,
    ...(options.gateway === undefined ? {} : { gateway: options.gateway }),
    ...(options.joinRequests === undefined ? {} : { joinRequests: options.joinRequests }),
  });
  const { app, fake, sandbox, token, secret } = stack;
  const sql = createSql(app.db.orm);
  let updateId = 5000;
  const from = (userId: number) => ({ id: userId, is_bot: false, first_name: 'T' });
  const count = async (fromWhere: string, params: unknown[]) =>
    Number((await sql<{ n: string }>(`select count(*)::text as n from ${fromWhere}`, params))[0]!.n);
  const sentTo = (userId: number, method?: string) =>
    fake.callsOf(token, method).filter((c) => c.status === 200 && Number(c.params['chat_id']) === userId);

  return Object.assign(harness, {
    app,
    fake,
    sandbox,
    botId,
    token,
    // Like Telegram, a 2xx answer naming a method (a callback query's answer) is run by the fake.
    post: async (update: Record<string, unknown>) => {
      const res = await fetch(`${app.url}/telegram/${botId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
        body: JSON.stringify({ update_id: updateId++, ...update }),
      });
      const text = await res.text();
      if (res.ok) fake.runWebhookReply(token, text);
      return new Response(text, { status: res.status, headers: res.headers });
    },
    say: (userId: number, text: string) =>
      harness.post({
        message: {
          message_id: updateId,
          date: 1,
          chat: { id: userId, type: 'private' },
          from: from(userId),
          text,
        },
      }),
    press: (userId: number, data: string) =>
      harness.post({ callback_query: { id: `q${updateId}`, from: from(userId), chat_instance: 'x', data } }),
    async checkout(userId: number) {
      assert.equal((await harness.say(userId, '/start')).status, 200);
      assert.equal((await harness.say(userId, `u${userId}@example.com`)).status, 200);
      const buy = encodeCallbackData({ version: 1, step: 'offers', index: 0 });
      assert.equal((await harness.press(userId, buy)).status, 200);
      await app.effects.idle();
      const rows = await sql<{ order_id: string }>(
        `select order_id from payments where bot_id = $1 and user_id = $2`,
        [botId, userId],
      );
      assert.equal(rows.length, 1);
      return rows[0]!.order_id;
    },
    async buy(userId: number) {
      const payment = await app.funnel.payments.get(await harness.checkout(userId));
      if (payment === null || payment.gatewayChargeId === null) throw new Error('no charge was created');
      return payment;
    },
    invitesSentTo: (userId: number) =>
      sentTo(userId, 'sendMessage').flatMap(
        (c) => /https:\/\/t\.me\/\+\S+/.exec(String(c.params['text'])) ?? [],
      ),
    async settle() {
      await sandbox.settled();
      await app.effects.idle();
    },
    chargeOf: (userId: number) =>
      [...sandbox.charges.values()].find((c) => c.order_id.includes(`:${userId}:`))!,
    count,
    grants: (orderId: string) => count('access_grants where order_id = $1', [orderId]),
    purchases: (orderId: string) =>
      count('conversion_events where event_id = $1', [eventIdFor('Purchase', orderId)]),
    inviteLinks: (orderId: string) =>
      fake
        .callsOf(token, 'createChatInviteLink')
        .filter((c) => c.status === 200 && c.params['name'] === linkNameFor(orderId)).length,
    sentTo,
    confirmations: (userId: number) =>
      sentTo(userId, 'sendMessage').filter((c) => /Pagamento confirmado/.test(String(c.params['text']))),
    async runJobsAt(ms: number) {
      harness.offset = ms;
      try {
        await app.runJobs();
      } finally {
        harness.offset = 0;
      }
      await app.effects.idle();
    },
    close: () => stack.close(),
  });
}
