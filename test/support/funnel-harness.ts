/**
 * Test helper: the whole funnel over real HTTP on a fresh Postgres database and a random Redis
 * prefix, with the fake Bot API, the sandbox PIX gateway and the fake Graph API, and helpers to click
 * an ad, talk to the bot, pay, and drain the Meta outbox.
 */
import { Redis } from 'ioredis';
import type { BotflowApp } from '../../src/bootstrap.ts';
import { createSql } from '../../src/db/sql-client.ts';
import type { FakeBotApi } from '../../src/sim/fake-bot-api.ts';
import type { FakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import type { SandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { createKeys, type Keys } from '../../src/stores/keys.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { startStack } from './start-stack.ts';
import { waitFor as waitUntil } from './wait-for.ts';

export const BOT_ID = 'trk';
export const BOT_USERNAME = 'trk_test_bot';
export const ADMIN_TOKEN = 'admin-token-for-tracking-tests';
export const PIXEL = { pixel_id: '424242424242', access_token: 'meta-test-access-token' };
const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';

/** A flow whose first step is the offer: a buy button is valid right after `/start`. */
export const quickBuyFlow = {
  id: 'quick-buy',
  flow_start_step_id: 'offers',
  main_buttons: [{ text: 'VIP', price: 19.9, description: 'Grupo VIP' }],
  flow_steps: [
    {
      id: 'offers',
      type: 'buttons',
      config: { text: 'Escolha o plano:', custom_buttons: [{ text: 'VIP', main_button_index: 0 }] },
      conditions: [{ type: 'button_click', button_text: 'VIP', target_step: 'pay' }],
    },
    { id: 'pay', type: 'payment', config: { expires_in_minutes: 30 }, connections: { next: 'done' } },
    { id: 'done', type: 'end', config: { text: 'Obrigado!' } },
  ],
};

/** A running funnel and its helpers. */
export interface FunnelHarness {
  app: BotflowApp;
  fake: FakeBotApi;
  sandbox: SandboxGateway;
  graph: FakeGraphApi;
  redis: Redis;
  keys: Keys;
  slug: string;
  sql: ReturnType<typeof createSql>;
  /** `GET /r/<slug>` with a query string, without following the redirect. */
  click(query: string, headers?: Record<string, string>, slug?: string): Promise<Response>;
  /** The `start` token of a redirect answer. */
  tokenOf(res: Response): string;
  /** Posts an update to the bot's webhook and resolves once it is committed (200). */
  post(update: Record<string, unknown>): Promise<Response>;
  /** Queues an update at the fake Bot API, which delivers it to the webhook the way Telegram does. */
  push(update: Record<string, unknown>): void;
  message(userId: number, text: string): Record<string, unknown>;
  buy(userId: number): Record<string, unknown>;
  /** The user's charge once the gateway has it (waits for the createCharge effect). */
  chargeOf(userId: number): Promise<{ orderId: string; chargeId: string }>;
  /** Pays the user's charge through the signed sandbox webhook and waits until it is committed. */
  pay(userId: number): Promise<string>;
  /**
   * Runs the conversion sender until nothing is pending; returns the events the fake Graph API
   * accepted. Throws if Meta (the fake) refused any event for good.
   */
  drainConversions(): Promise<Array<Record<string, unknown>>>;
  waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms?: number): Promise<T>;
  close(): Promise<void>;
}

/** Starts the harness. */
export async function startFunnelHarness(): Promise<FunnelHarness> {
  const stack = await startStack({
    botId: BOT_ID,
    botNumber: 7200000001,
    username: BOT_USERNAME,
    flow: quickBuyFlow,
    pixel: PIXEL,
    adminToken: ADMIN_TOKEN,
    config: { trustProxy: true },
  });
  const { app, fake, sandbox, graph, token, version, prefix, secret } = stack;
  const slug = 'ads-promo';
  await app.funnel.links.add({ slug, botId: BOT_ID, campaign: 'black-friday' });
  const redis = new Redis(REDIS);
  const sql = createSql(app.db.orm);
  let updateId = 1;

  const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 10_000) =>
    waitUntil(what, probe, ms, 20);

  const chargeOf = (userId: number) =>
    waitFor(`the charge of ${userId}`, async () => {
      const rows = await sql<{ order_id: string; gateway_charge_id: string | null }>(
        `select order_id, gateway_charge_id from payments where bot_id = $1 and user_id = $2 order by id desc limit 1`,
        [BOT_ID, userId],
      );
      const row = rows[0];
      return row?.gateway_charge_id ? { orderId: row.order_id, chargeId: row.gateway_charge_id } : null;
    });

  return {
    app,
    fake,
    sandbox,
    graph,
    redis,
    keys: createKeys(prefix),
    slug,
    sql,
    click: (query, headers = {}, s = slug) =>
      fetch(`${app.url}/r/${s}${query === '' ? '' : `?${query}`}`, { redirect: 'manual', headers }),
    tokenOf(res) {
      return new URL(res.headers.get('location') ?? '').searchParams.get('start') ?? '';
    },
    post: (update) =>
      fetch(`${app.url}/telegram/${BOT_ID}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
        body: JSON.stringify(update),
      }),
    push(update) {
      fake.pushUpdate(token, update);
    },
    message: (userId, text) => ({
      update_id: updateId++,
      message: {
        message_id: updateId,
        date: Math.floor(Date.now() / 1000),
        chat: { id: userId, type: 'private' },
        from: { id: userId, is_bot: false, first_name: 'Ana' },
        text,
      },
    }),
    buy: (userId) => ({
      update_id: updateId++,
      callback_query: {
        id: `q${updateId}`,
        from: { id: userId, is_bot: false, first_name: 'Ana' },
        chat_instance: String(userId),
        data: encodeCallbackData({ version, step: 'offers', index: 0 }),
      },
    }),
    chargeOf,
    async pay(userId) {
      const { orderId, chargeId } = await chargeOf(userId);
      await sandbox.pay(chargeId);
      await sandbox.settled();
      await waitFor(
        `payment ${orderId}`,
        async () => (await app.funnel.payments.get(orderId))?.status === 'paid',
      );
      return orderId;
    },
    async drainConversions() {
      await app.effects.idle();
      await waitFor(
        'the conversions outbox to drain',
        async () => {
          await app.runJobs();
          return (await app.funnel.conversions.counts()).pending === 0;
        },
        15_000,
      );
      const dead = await sql<{ event_id: string; last_error: string }>(
        `select event_id, last_error from conversion_events where status = 'dead'`,
      );
      if (dead.length > 0) throw new Error(`Meta refused events: ${JSON.stringify(dead)}`);
      return graph.events.get(PIXEL.pixel_id) ?? [];
    },
    waitFor,
    async close() {
      redis.disconnect();
      await stack.close();
    },
  };
}
