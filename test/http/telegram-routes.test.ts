import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { createHotRoutes } from '../../src/http/hot-routes.ts';
import { listen } from '../../src/http/serve.ts';
import { createTelegramWebhook } from '../../src/http/telegram-routes.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));
const TOKEN = '7100000001:AAtest-token-for-the-fake-bot-api';
const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';

let fresh: FreshDatabase;
let fake: FakeBotApi;
let sandbox: SandboxGateway;
let app: BotflowApp;
let secret: string;
const prefix = `bf-test-${randomBytes(4).toString('hex')}`;

const env = () => ({ DATABASE_URL: fresh.url, REDIS_URL: REDIS, LOG_LEVEL: 'silent' });
const start = (extra: Partial<Parameters<typeof bootstrap>[0]> = {}) =>
  bootstrap({
    env: env(),
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: prefix,
    ...extra,
  });

let updateId = 1000;
const message = (userId: number, text: string) => ({
  update_id: updateId++,
  message: {
    message_id: updateId,
    date: 1,
    chat: { id: userId, type: 'private' },
    from: { id: userId, is_bot: false, first_name: 'T' },
    text,
  },
});
const press = (userId: number, data: string) => ({
  update_id: updateId++,
  callback_query: {
    id: `q${updateId}`,
    from: { id: userId, is_bot: false, first_name: 'T' },
    chat_instance: 'x',
    data,
  },
});
const post = (
  body: unknown,
  headers: Record<string, string> = { 'x-telegram-bot-api-secret-token': secret },
) =>
  fetch(`${app.url}/telegram/tbot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const rowVersion = async (userId: number) => (await app.store.load('tbot', String(userId)))?.rowVersion ?? 0;

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi({ retryBaseMs: 20 });
  fake.addBot({ token: TOKEN, id: 7100000001, username: 'tbot_test_bot' });
  sandbox = await startSandboxGateway({ apiKey: 'k', webhookSecret: 'sandbox-secret' });
  app = await start();
  await app.addBot({
    id: 'tbot',
    token: TOKEN,
    gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'k', webhook_secret: 'sandbox-secret' },
  });
  await app.publishFlow('tbot', vip);
  secret = (await app.funnel.settingsOf('tbot'))!.webhookSecret;
});
after(async () => {
  await app.close();
  await Promise.all([fake.close(), sandbox.close()]);
  await fresh.drop();
});

describe('Telegram webhook', () => {
  it('registers the bot with getMe and setWebhook carrying a secret and explicit allowed_updates', () => {
    const set = fake.callsOf(TOKEN, 'setWebhook').at(-1)!;
    assert.equal(set.params['url'], `${app.url}/telegram/tbot`);
    assert.equal(set.params['secret_token'], secret);
    assert.ok(JSON.stringify(set.params['allowed_updates']).includes('callback_query'));
    assert.equal(fake.callsOf(TOKEN, 'getMe').length, 1);
  });

  it('refuses a wrong or missing secret with 401 and processes nothing', async () => {
    const wrong = await post(message(501, '/start'), { 'x-telegram-bot-api-secret-token': 'nope' });
    const missing = await post(message(501, '/start'), {});
    assert.equal(wrong.status, 401);
    assert.equal(missing.status, 401);
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    assert.equal(await rowVersion(501), 0);
  });

  it('applies an update delivered twice once', async () => {
    const update = message(502, '/start');
    assert.equal((await post(update)).status, 200);
    assert.equal((await post(update)).status, 200);
    assert.equal(await rowVersion(502), 1);
    await app.effects.idle();
    const welcomes = fake
      .callsOf(TOKEN)
      .filter(
        (c) =>
          Number(c.params['chat_id']) === 502 &&
          /e-?mail/i.test(String(c.params['text'] ?? c.params['caption'])),
      );
    assert.equal(welcomes.length, 1);
  });

  it('answers malformed, non-update and oversized bodies with 4xx and keeps serving', async () => {
    const bad = await post('{not json');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INVALID_JSON');
    const notUpdate = await post({ hello: 1 });
    assert.equal(notUpdate.status, 400);
    assert.equal(((await notUpdate.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
    const huge = await post({ update_id: 1, message: { text: 'x'.repeat(2 << 20) } });
    assert.equal(huge.status, 413);
    assert.equal((await post(message(503, '/start'))).status, 200);
    assert.equal(await rowVersion(503), 1);
  });

  it('answers a stale button with a notice and the callback answer, changing nothing', async () => {
    await post(message(504, '/start'));
    const before = await app.store.load('tbot', '504');
    const update = press(504, encodeCallbackData({ version: 1, step: 'offers', index: 0 }));
    const res = await post(update);
    assert.equal(res.status, 200);
    // The answer is the 200's body (a webhook reply), which Telegram runs; no request of its own.
    assert.deepEqual(await res.json(), {
      method: 'answerCallbackQuery',
      callback_query_id: update.callback_query.id,
    });
    const afterPress = await app.store.load('tbot', '504');
    assert.equal(JSON.stringify(afterPress!.snapshot.value), JSON.stringify(before!.snapshot.value));
    await app.effects.idle();
    assert.equal(fake.callsOf(TOKEN, 'answerCallbackQuery').length, 0);
  });

  it('creates one charge for a double click on a buy button', async () => {
    await post(message(505, '/start'));
    await post(message(505, 'ana@example.com'));
    const buy = encodeCallbackData({ version: 1, step: 'offers', index: 0 });
    const [a, b] = await Promise.all([post(press(505, buy)), post(press(505, buy))]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    await app.effects.idle();
    const sql = createSql(app.db.orm);
    const rows = await sql<{ n: string }>(
      `select count(*)::text as n from payments where bot_id = 'tbot' and user_id = 505`,
    );
    assert.equal(rows[0]!.n, '1');
    assert.equal([...sandbox.charges.values()].filter((c) => c.order_id.includes(':505:')).length, 1);
  });

  it('refuses a forged payment webhook with 401 and changes nothing', async () => {
    const charge = [...sandbox.charges.values()].find((c) => c.order_id.includes(':505:'))!;
    const body = JSON.stringify({
      id: 'evt_forged',
      type: 'charge.updated',
      charge_id: charge.id,
      order_id: charge.order_id,
      status: 'paid',
      amount_cents: charge.amount_cents,
    });
    const res = await fetch(`${app.url}/payments/tbot/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-sandbox-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`,
      },
      body,
    });
    assert.equal(res.status, 401);
    const payment = await app.funnel.payments.get(charge.order_id);
    assert.equal(payment!.status, 'pending');
  });

  it('confirms a duplicated, signed paid webhook once: one paid transition, one access grant', async () => {
    const charge = [...sandbox.charges.values()].find((c) => c.order_id.includes(':505:'))!;
    sandbox.setDelivery({ duplicates: 3 });
    await sandbox.pay(charge.id);
    await sandbox.settled();
    sandbox.setDelivery({ duplicates: 1 });
    await app.effects.idle();
    const payment = await app.funnel.payments.get(charge.order_id);
    assert.equal(payment!.status, 'paid');
    const sql = createSql(app.db.orm);
    const grants = await sql<{ n: string }>(
      `select count(*)::text as n from access_grants where order_id = $1`,
      [charge.order_id],
    );
    assert.equal(grants[0]!.n, '1');
    const links = fake.callsOf(TOKEN, 'createChatInviteLink').filter((c) => c.status === 200);
    assert.equal(links.length, 1);
  });

  it('holds a bot on every worker after a 429 seen by one', async () => {
    const other = await start({ ownAllShards: false, http: false });
    try {
      fake.injectError({ status: 429, retryAfter: 1, method: 'sendMessage', token: TOKEN, times: 1 });
      const first = app.funnel.apis.call('tbot', 'sendMessage', { chat_id: 900, text: 'first' });
      // Wait until the 429 was answered and published to the gate, while the first worker still waits.
      while (!fake.calls.some((c) => c.status === 429)) await new Promise((r) => setTimeout(r, 5));
      const refusedAt = fake.calls.find((c) => c.status === 429)!.at;
      await new Promise((r) => setTimeout(r, 50));
      // Shared through Redis: the other worker's send waits for the deadline although it never saw a 429.
      await other.funnel.apis.call('tbot', 'sendMessage', { chat_id: 901, text: 'second' });
      await first;
      const sent = fake.callsOf(TOKEN, 'sendMessage').find((c) => c.params['text'] === 'second')!;
      assert.ok(sent.at >= refusedAt + 900, `the other worker sent ${sent.at - refusedAt} ms after the 429`);
      const exposition = await app.metrics.registry.metrics();
      assert.match(exposition, /botflow_telegram_flood_waits_total\{bot_id="tbot"\} 1\b/);
    } finally {
      await other.close();
    }
  });
});

describe('Telegram webhook secret (kept digests)', () => {
  it('accepts the current secret only, and follows a rotated secret at once', async () => {
    const secrets = new Map([
      ['bot_a', 'first-secret'],
      ['bot_b', 'other-secret'],
    ]);
    const handled: string[] = [];
    const routes = createHotRoutes({
      telegram: createTelegramWebhook({
        secretOf: async (botId) => secrets.get(botId) ?? null,
        handle: async (botId) => void handled.push(botId),
      }),
      redirect: async () => assert.fail('no click is sent'),
      metrics: createMetrics(),
      logger: pino({ level: 'silent' }),
      fallback: (_req, res) => res.writeHead(404).end(),
    });
    const server = await listen(routes, { port: 0 });
    const postAs = (botId: string, given: string) =>
      fetch(`${server.url}/telegram/${botId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': given },
        body: JSON.stringify({ update_id: 1 }),
      }).then((r) => r.status);
    try {
      assert.equal(await postAs('bot_a', 'first-secret'), 200);
      assert.equal(await postAs('bot_a', 'first-secret'), 200);
      assert.equal(await postAs('bot_b', 'first-secret'), 401, "another bot's secret");
      assert.equal(await postAs('bot_a', 'first-secre'), 401);
      assert.equal(await postAs('bot_a', ''), 401);
      secrets.set('bot_a', 'rotated-secret');
      assert.equal(await postAs('bot_a', 'first-secret'), 401, 'the old secret, once rotated');
      assert.equal(await postAs('bot_a', 'rotated-secret'), 200);
      secrets.delete('bot_a');
      assert.equal(await postAs('bot_a', 'rotated-secret'), 401, 'a removed bot');
      assert.deepEqual(handled, ['bot_a', 'bot_a', 'bot_a']);
    } finally {
      await server.close();
    }
  });
});
