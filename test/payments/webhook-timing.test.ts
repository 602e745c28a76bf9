import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { hasError, parsePix } from 'pix-utils';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { linkNameFor } from '../../src/bot/telegram-effects.ts';
import { createSql } from '../../src/db/sql-client.ts';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { type FakeGraphApi, startFakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { eventIdFor } from '../../src/tracking/conversion-event.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));
const TOKEN = '7200000001:AAtiming-token-for-the-fake-bot-api';
const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const VIP_CHAT = -1001234567890;
const DAY = 86_400_000;

let fresh: FreshDatabase;
let fake: FakeBotApi;
let graph: FakeGraphApi;
let sandbox: SandboxGateway;
let app: BotflowApp;
let secret: string;
/** botflow's clock runs `offset` ms ahead of the sandbox's (a moved clock for expiry jobs). */
let offset = 0;

let updateId = 5000;
const from = (userId: number) => ({ id: userId, is_bot: false, first_name: 'T' });
const post = (update: unknown) =>
  fetch(`${app.url}/telegram/tbot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
    body: JSON.stringify(update),
  });
const say = (userId: number, text: string) =>
  post({
    update_id: updateId++,
    message: {
      message_id: updateId,
      date: 1,
      chat: { id: userId, type: 'private' },
      from: from(userId),
      text,
    },
  });
const press = (userId: number, data: string) =>
  post({
    update_id: updateId++,
    callback_query: { id: `q${updateId}`, from: from(userId), chat_instance: 'x', data },
  });

const sql = () => createSql(app.db.orm);
const count = async (text: string, params: unknown[]) =>
  Number((await sql()<{ n: string }>(`select count(*)::text as n from ${text}`, params))[0]!.n);
const grants = (orderId: string) => count('access_grants where order_id = $1', [orderId]);
const purchases = (orderId: string) =>
  count('conversion_events where event_id = $1', [eventIdFor('Purchase', orderId)]);
const inviteLinks = (orderId: string) =>
  fake
    .callsOf(TOKEN, 'createChatInviteLink')
    .filter((c) => c.status === 200 && c.params['name'] === linkNameFor(orderId)).length;
const sentTo = (userId: number, method?: string) =>
  fake.callsOf(TOKEN, method).filter((c) => c.status === 200 && Number(c.params['chat_id']) === userId);
const confirmations = (userId: number) =>
  sentTo(userId, 'sendMessage').filter((c) => /Pagamento confirmado/.test(String(c.params['text'])));
const isCharge = (c: { params: Record<string, unknown> }) =>
  /PIX copia e cola/.test(String(c.params['caption']));
const chargeOf = (userId: number) =>
  [...sandbox.charges.values()].find((c) => c.order_id.includes(`:${userId}:`))!;

/** Drives a buyer over real HTTP to the VIP Mensal charge; returns its order id. */
async function checkout(userId: number): Promise<string> {
  assert.equal((await say(userId, '/start')).status, 200);
  assert.equal((await say(userId, `u${userId}@example.com`)).status, 200);
  assert.equal(
    (await press(userId, encodeCallbackData({ version: 1, step: 'offers', index: 0 }))).status,
    200,
  );
  await app.effects.idle();
  const rows = await sql()<{ order_id: string }>(
    `select order_id from payments where bot_id = 'tbot' and user_id = $1`,
    [userId],
  );
  assert.equal(rows.length, 1);
  return rows[0]!.order_id;
}

/** Waits until every webhook and every effect it caused are done. */
async function settle(): Promise<void> {
  await sandbox.settled();
  await app.effects.idle();
}

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi({ retryBaseMs: 20 });
  fake.addBot({ token: TOKEN, id: 7200000001, username: 'timing_test_bot' });
  graph = await startFakeGraphApi({ tokens: ['meta-token'] });
  sandbox = await startSandboxGateway({ apiKey: 'k', webhookSecret: 'sandbox-secret', retryBaseMs: 20 });
  app = await bootstrap({
    env: { DATABASE_URL: fresh.url, REDIS_URL: REDIS, LOG_LEVEL: 'silent' },
    config: { telegramApiRoot: fake.url, metaGraphUrl: graph.url },
    now: () => Date.now() + offset,
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: `bf-test-${randomBytes(4).toString('hex')}`,
  });
  await app.addBot({
    id: 'tbot',
    token: TOKEN,
    gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'k', webhook_secret: 'sandbox-secret' },
    pixel: { pixel_id: 'px-timing', access_token: 'meta-token' },
  });
  await app.publishFlow('tbot', vip);
  secret = (await app.funnel.settingsOf('tbot'))!.webhookSecret;
});
after(async () => {
  await app.close();
  await Promise.all([fake.close(), sandbox.close(), graph.close()]);
  await fresh.drop();
});

describe('payment webhook timing (bootstrap, Postgres, Redis, fake Bot API, sandbox gateway)', () => {
  it('early: a paid webhook handled before the charge is recorded grants once, and no QR follows', async () => {
    let seen: { gatewayChargeId: string | null; status: string } | null = null;
    sandbox.onCreate(async (charge) => {
      // An instant payer: paid, and the webhook answered, before botflow hears back from the create call.
      await sandbox.pay(charge.id);
      await sandbox.settled();
      const payment = await app.funnel.payments.get(charge.order_id);
      seen = { gatewayChargeId: payment!.gatewayChargeId, status: payment!.status };
    });
    let orderId: string;
    try {
      orderId = await checkout(601);
    } finally {
      sandbox.onCreate(null);
    }
    await settle();
    assert.deepEqual(seen, { gatewayChargeId: null, status: 'paid' }, 'the webhook won the race');
    const charge = chargeOf(601);
    assert.ok(sandbox.deliveries.some((d) => d.charge_id === charge.id && d.status === 200));
    const payment = await app.funnel.payments.get(orderId);
    assert.equal(payment!.status, 'paid');
    assert.equal(payment!.gatewayChargeId, charge.id, 'the late create result is still recorded');
    assert.equal(await grants(orderId), 1);
    assert.equal(await purchases(orderId), 1);
    assert.equal(inviteLinks(orderId), 1);
    assert.equal(confirmations(601).length, 1);
    const confirmedAt = confirmations(601)[0]!.at;
    const qrAfter = sentTo(601, 'sendPhoto').filter((c) => c.at >= confirmedAt && isCharge(c));
    assert.equal(qrAfter.length, 0, 'a paid buyer is not asked to pay again');
  });

  it('late: a paid webhook after reconciliation expired the charge locally is honoured once', async () => {
    const orderId = await checkout(602);
    offset = 31 * 60_000; // past the 30-minute charge, on botflow's clock only
    try {
      assert.ok((await app.runJobs()).reconciled >= 1);
    } finally {
      offset = 0;
    }
    await app.effects.idle();
    assert.equal((await app.funnel.payments.get(orderId))!.status, 'expired');
    assert.equal(await grants(orderId), 0);
    // The payer paid at the last second; the gateway confirms after botflow gave up on the charge.
    await sandbox.pay(chargeOf(602).id);
    await settle();
    sandbox.notify(chargeOf(602).id, 'paid');
    await settle();
    const payment = await app.funnel.payments.get(orderId);
    assert.equal(payment!.status, 'paid');
    assert.equal(await grants(orderId), 1);
    assert.equal(await purchases(orderId), 1);
    assert.equal(inviteLinks(orderId), 1);
    assert.equal(confirmations(602).length, 1);
  });

  it('reordered: stale pending/expired notices delivered after paid leave it paid, granted once', async () => {
    const orderId = await checkout(603);
    const id = chargeOf(603).id;
    sandbox.setDelivery({ delayMs: 100, reorder: true });
    try {
      const expiredNotice = sandbox.notify(id, 'expired');
      const pendingNotice = sandbox.notify(id, 'pending');
      await sandbox.pay(id);
      await settle();
      const order = sandbox.deliveries.filter((d) => d.charge_id === id).map((d) => d.event_id);
      assert.equal(order.length, 3);
      assert.deepEqual(order.slice(1), [pendingNotice, expiredNotice], 'paid arrived first');
    } finally {
      sandbox.setDelivery({ delayMs: 0, reorder: false });
    }
    assert.ok(sandbox.deliveries.filter((d) => d.charge_id === id).every((d) => d.status === 200));
    // A reconciliation pass past the charge's expiry does not touch a paid payment either.
    offset = 31 * 60_000;
    try {
      await app.runJobs();
    } finally {
      offset = 0;
    }
    await app.effects.idle();
    assert.equal((await app.funnel.payments.get(orderId))!.status, 'paid');
    assert.equal(await grants(orderId), 1);
    assert.equal(await purchases(orderId), 1);
    assert.equal(confirmations(603).length, 1);
    const conversation = await app.store.load('tbot', '603');
    assert.equal(JSON.stringify(conversation!.snapshot.value).includes('access'), true);
  });

  it('duplicates: five concurrent copies of the paid webhook make one transition and one grant', async () => {
    const orderId = await checkout(604);
    const id = chargeOf(604).id;
    sandbox.setDelivery({ duplicates: 5, concurrent: true });
    try {
      await sandbox.pay(id);
      await settle();
    } finally {
      sandbox.setDelivery({ duplicates: 1, concurrent: false });
    }
    const copies = sandbox.deliveries.filter((d) => d.charge_id === id && d.attempt === 1);
    assert.equal(copies.length, 5);
    assert.equal(new Set(copies.map((d) => d.event_id)).size, 1);
    assert.ok(copies.every((d) => d.status === 200));
    assert.equal((await app.funnel.payments.get(orderId))!.status, 'paid');
    assert.equal(await grants(orderId), 1);
    assert.equal(await purchases(orderId), 1);
    assert.equal(inviteLinks(orderId), 1);
    assert.equal(confirmations(604).length, 1);
  });

  it('a paid claim for a charge the gateway expired grants nothing', async () => {
    const orderId = await checkout(605);
    const id = chargeOf(605).id;
    await sandbox.expire(id);
    await settle();
    assert.equal((await app.funnel.payments.get(orderId))!.status, 'expired');
    sandbox.notify(id, 'paid');
    await settle();
    assert.ok(sandbox.deliveries.filter((d) => d.charge_id === id).every((d) => d.status === 200));
    assert.equal((await app.funnel.payments.get(orderId))!.status, 'expired');
    assert.equal(await grants(orderId), 0);
    assert.equal(await purchases(orderId), 0);
    assert.equal(inviteLinks(orderId), 0);
    assert.equal(confirmations(605).length, 0);
  });

  it('access is granted once per order when grantAccess runs again, and removed when it expires', async () => {
    const orderId = await checkout(606);
    await sandbox.pay(chargeOf(606).id);
    await settle();
    const rows = await sql()<{
      idempotency_key: string;
      effect: KeyedEffect['effect'];
      flow_version: number;
    }>(
      `select idempotency_key, effect, flow_version from effects
       where bot_id = 'tbot' and user_id = 606 and effect->>'type' = 'grantAccess'`,
    );
    assert.equal(rows.length, 1);
    const item: KeyedEffect = {
      key: rows[0]!.idempotency_key,
      botId: 'tbot',
      userId: '606',
      flowVersion: rows[0]!.flow_version,
      effect: rows[0]!.effect,
    };
    // At-least-once: the runner may run the same effect again (a crash before it was marked done).
    await app.funnel.effectHandlers['grantAccess']!(item);
    await app.funnel.effectHandlers['grantAccess']!(item);
    assert.equal(await grants(orderId), 1);
    assert.equal(inviteLinks(orderId), 1);
    const grant = (await app.funnel.access.findByLinkName('tbot', linkNameFor(orderId)))!;
    assert.equal(grant.status, 'granted');
    const links = confirmations(606).map((c) => String(c.params['text']));
    assert.ok(links.length >= 1 && links.every((t) => t.includes(grant.inviteLink!)), 'always the same link');

    const target = (c: { params: Record<string, unknown> }) =>
      Number(c.params['user_id']) === 606 && Number(c.params['chat_id']) === VIP_CHAT;
    offset = 29 * DAY;
    try {
      await app.runJobs();
      assert.equal(fake.callsOf(TOKEN, 'banChatMember').filter(target).length, 0, 'not yet due');
      offset = 31 * DAY;
      await app.runJobs();
      await app.runJobs();
    } finally {
      offset = 0;
    }
    assert.equal(fake.callsOf(TOKEN, 'banChatMember').filter(target).length, 1);
    const unban = fake.callsOf(TOKEN, 'unbanChatMember').filter(target);
    assert.equal(unban.length, 1);
    assert.equal(unban[0]!.params['only_if_banned'], true);
    const revoked = fake.callsOf(TOKEN, 'revokeChatInviteLink');
    assert.ok(revoked.some((c) => c.params['invite_link'] === grant.inviteLink && c.status === 200));
    assert.equal(
      sentTo(606, 'sendMessage').filter((c) => /expirou/.test(String(c.params['text']))).length,
      1,
    );
    assert.equal((await app.funnel.access.findByLinkName('tbot', linkNameFor(orderId)))!.status, 'expired');
  });

  it('every BR Code a buyer was shown parses with pix-utils, holds its CRC and matches the order', async () => {
    const photos = fake.callsOf(TOKEN, 'sendPhoto').filter((c) => c.status === 200 && isCharge(c));
    assert.ok(photos.length >= 5, `${photos.length} charges shown`);
    for (const photo of photos) {
      const code = /<code>([^<]+)<\/code>/.exec(String(photo.params['caption']))?.[1];
      assert.ok(code !== undefined);
      // The QR uploaded with it is the pool's rendering of that very code.
      const upload = photo.params['photo'] as { size: number; mimeType?: string };
      assert.equal(upload.size, (await app.funnel.qr.render(code, { width: 384, margin: 2 })).length);
      const parsed = parsePix(code);
      assert.ok(!hasError(parsed), code);
      assert.equal(parsed.type, 'STATIC');
      if (parsed.type !== 'STATIC') continue;
      const rows = await sql()<{ amount_cents: number; gateway_charge_id: string }>(
        `select amount_cents, gateway_charge_id from payments where br_code = $1`,
        [code],
      );
      assert.equal(rows.length, 1, 'the code shown is the one recorded');
      assert.equal(Math.round(parsed.transactionAmount! * 100), rows[0]!.amount_cents);
      assert.equal(parsed.txid, rows[0]!.gateway_charge_id.replace(/[^A-Za-z0-9]/g, '').slice(0, 25));
    }
  });
});
