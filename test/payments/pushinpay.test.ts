import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { hasError, parsePix } from 'pix-utils';
import { BotflowError } from '../../src/errors.ts';
import type { CreateChargeInput, PixGateway, WebhookRequest } from '../../src/payments/gateway.ts';
import { createPushinPayGateway } from '../../src/payments/pushinpay.ts';
import { type PushinPayReplay, startPushinPayReplay } from '../../src/sim/pushinpay-replay.ts';
import type { ReplayDelivery } from '../../src/sim/replay-http.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TOKEN = '4242|SHOULD_NEVER_LEAK_pushinpay_token';
const HOOK_TOKEN = 'hook-SHOULD_NEVER_LEAK-token';

/** Asserts a BotflowError with `code` whose every rendering omits both credentials. */
function assertCoded(error: unknown, code: string): true {
  assert.ok(error instanceof BotflowError, String(error));
  assert.equal(error.code, code, error.message);
  for (const text of [
    error.message,
    JSON.stringify(error),
    inspect(error, { depth: 10 }),
    String(error.stack),
  ])
    assert.doesNotMatch(text, /SHOULD_NEVER_LEAK/);
  return true;
}

const asRequest = (d: ReplayDelivery): WebhookRequest => ({
  headers: d.headers,
  query: {},
  rawBody: Buffer.from(d.body),
});

describe('PushinPay adapter against the replay server (real HTTP)', () => {
  let replay: PushinPayReplay;
  let hooks: WebhookReceiver;
  let gateway: PixGateway;
  const clock = Date.parse('2026-11-22T12:00:00Z');
  let seq = 0;
  before(async () => {
    replay = await startPushinPayReplay({ token: TOKEN, webhookToken: HOOK_TOKEN, now: () => clock });
    hooks = await startWebhookReceiver();
    gateway = createPushinPayGateway({
      token: TOKEN,
      webhookToken: HOOK_TOKEN,
      apiBase: replay.url,
      now: () => clock,
    });
  });
  after(async () => {
    await replay.close();
    await hooks.close();
  });

  const input = (overrides: Partial<CreateChargeInput> = {}): CreateChargeInput => {
    const orderId = `ord-${++seq}`;
    return {
      orderId,
      idempotencyKey: orderId,
      amount: 1990,
      description: 'VIP',
      expiresInSeconds: 1800,
      notificationUrl: hooks.url,
      ...overrides,
    };
  };
  const hook = (body: string, headers: WebhookRequest['headers'] = { 'x-pushinpay-token': HOOK_TOKEN }) => ({
    headers: { 'content-type': 'application/json', ...headers },
    query: {},
    rawBody: Buffer.from(body),
  });

  it('creates a charge in centavos with a valid BR Code; a retried create is not sent twice', async () => {
    const request = input();
    const charge = await gateway.createCharge(request);
    assert.equal(gateway.id, 'pushinpay');
    assert.equal(charge.gateway, 'pushinpay');
    assert.equal(charge.status, 'pending');
    assert.equal(charge.amount, 1990);
    assert.equal(charge.orderId, request.orderId);
    assert.equal(charge.expiresAt, clock + 1_800_000);
    assert.ok(charge.qrImageBase64 !== undefined && !charge.qrImageBase64.startsWith('data:'));
    assert.ok(Buffer.from(charge.qrImageBase64, 'base64').length > 100);
    const parsed = parsePix(charge.brCode);
    assert.ok(!hasError(parsed) && parsed.type === 'STATIC' && parsed.transactionAmount === 19.9);
    const sent = replay.lastRequests.at(-1)!;
    assert.equal(sent.path, '/api/pix/cashIn');
    assert.deepEqual(JSON.parse(sent.body), { value: 1990, webhook_url: hooks.url });
    const posts = replay.lastRequests.length;
    const again = await gateway.createCharge(request);
    assert.equal(again.gatewayChargeId, charge.gatewayChargeId);
    assert.equal(replay.lastRequests.length, posts, 'answered from memory: PushinPay has no idempotency key');
    assert.equal(replay.transactions.size, 1);
  });

  it('reads amounts back exactly, including the digit strings lookups return', async () => {
    for (const cents of [50, 1990, 123456789]) {
      const charge = await gateway.createCharge(input({ amount: cents }));
      assert.equal(charge.amount, cents);
      const read = await gateway.getCharge(charge.gatewayChargeId);
      assert.equal(read.amount, cents);
      assert.equal(read.brCode, charge.brCode);
    }
    await assert.rejects(gateway.createCharge(input({ amount: 49 })), (e) => assertCoded(e, 'BAD_REQUEST'));
    await assert.rejects(gateway.createCharge(input({ amount: 99.5 })), (e) => assertCoded(e, 'BAD_REQUEST'));
  });

  it('a paid transaction posts a token-bearing webhook the adapter accepts; getCharge then says paid', async () => {
    const charge = await gateway.createCharge(input());
    await replay.pay(charge.gatewayChargeId);
    await replay.settled();
    const delivery = replay.deliveries.find((d) => d.body.includes(charge.gatewayChargeId))!;
    assert.equal(delivery.url, hooks.url);
    const notice = await gateway.verifyAndParseWebhook(asRequest(delivery));
    assert.deepEqual(notice, {
      gatewayChargeId: charge.gatewayChargeId,
      dedupKey: `pushinpay:${charge.gatewayChargeId}:paid`,
      claimedStatus: 'paid',
      authenticated: 'shared_token',
    });
    const read = await gateway.getCharge(charge.gatewayChargeId);
    assert.equal(read.status, 'paid');
    assert.equal(read.paidAt, clock);
    assert.equal(read.orderId, charge.orderId);
  });

  it('accepts form-encoded webhooks and a custom token header', async () => {
    const formReplay = await startPushinPayReplay({
      token: TOKEN,
      webhookToken: HOOK_TOKEN,
      webhookTokenHeader: 'x-webhook-token',
      webhookEncoding: 'form',
    });
    try {
      const formGateway = createPushinPayGateway({
        token: TOKEN,
        webhookToken: HOOK_TOKEN,
        webhookTokenHeader: 'X-Webhook-Token',
        apiBase: formReplay.url,
      });
      const charge = await formGateway.createCharge(input());
      await formReplay.expire(charge.gatewayChargeId);
      await formReplay.settled();
      const delivery = formReplay.deliveries[0]!;
      assert.equal(delivery.headers['content-type'], 'application/x-www-form-urlencoded');
      const notice = await formGateway.verifyAndParseWebhook(asRequest(delivery));
      assert.equal(notice.gatewayChargeId, charge.gatewayChargeId);
      assert.equal(notice.claimedStatus, 'canceled');
      assert.equal((await formGateway.getCharge(charge.gatewayChargeId)).status, 'canceled');
      await assert.rejects(gateway.verifyAndParseWebhook(asRequest(delivery)), (e) =>
        assertCoded(e, 'UNAUTHORIZED'),
      );
    } finally {
      await formReplay.close();
    }
  });

  it('a missing or wrong token is UNAUTHORIZED; a malformed body is BAD_REQUEST', async () => {
    const body = JSON.stringify({ id: 'ABC-1', status: 'paid', value: 1990 });
    assert.equal((await gateway.verifyAndParseWebhook(hook(body))).gatewayChargeId, 'ABC-1');
    for (const headers of [
      {},
      { 'x-pushinpay-token': '' },
      { 'x-pushinpay-token': 'wrong' },
      { 'x-pushinpay-token': HOOK_TOKEN.slice(0, -1) },
      { 'x-pushinpay-token': `${HOOK_TOKEN}x` },
      { authorization: `Bearer ${HOOK_TOKEN}` },
    ])
      await assert.rejects(gateway.verifyAndParseWebhook(hook(body, headers)), (e) =>
        assertCoded(e, 'UNAUTHORIZED'),
      );
    for (const bad of [
      'garbage',
      '{}',
      '[]',
      JSON.stringify({ id: '../x', status: 'paid' }),
      JSON.stringify({ id: 5 }),
    ])
      await assert.rejects(gateway.verifyAndParseWebhook(hook(bad)), (e) => assertCoded(e, 'BAD_REQUEST'));
    const unknown = await gateway.verifyAndParseWebhook(
      hook(JSON.stringify({ id: 'ABC-2', status: 'weird' })),
    );
    assert.equal(unknown.claimedStatus, undefined, 'an unknown status claims nothing');
  });

  it('has no refund: PushinPay documents none', () => {
    assert.equal(gateway.refund, undefined);
  });

  it('maps failures to codes and never leaks a credential', async () => {
    const wrong = createPushinPayGateway({
      token: '4242|SHOULD_NEVER_LEAK_wrong',
      webhookToken: HOOK_TOKEN,
      apiBase: replay.url,
    });
    await assert.rejects(wrong.createCharge(input()), (e) => assertCoded(e, 'UNAUTHORIZED'));
    await assert.rejects(gateway.getCharge('0000-missing'), (e) => assertCoded(e, 'NOT_FOUND'));
    await assert.rejects(gateway.getCharge('a/b'), (e) => assertCoded(e, 'BAD_REQUEST'));
    replay.injectError({
      status: 422,
      body: { message: `token ${TOKEN} invalid`, errors: { value: ['x'] } },
    });
    await assert.rejects(gateway.createCharge(input()), (e) => assertCoded(e, 'BAD_REQUEST'));
    replay.injectError({ status: 500 });
    await assert.rejects(gateway.createCharge(input()), (e) => {
      assertCoded(e, 'UPSTREAM_FAILED');
      return (e as BotflowError).retryable;
    });
    const down = createPushinPayGateway({
      token: TOKEN,
      webhookToken: HOOK_TOKEN,
      apiBase: 'http://127.0.0.1:1',
    });
    await assert.rejects(down.getCharge('abc'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
  });

  it('looks a transaction up at most once a minute; within it, answers the last state (lookup or webhook)', async () => {
    let now = Date.parse('2026-11-22T12:00:00Z');
    const limited = await startPushinPayReplay({
      token: TOKEN,
      webhookToken: HOOK_TOKEN,
      enforceRateLimit: true,
      now: () => now,
    });
    try {
      const g = createPushinPayGateway({
        token: TOKEN,
        webhookToken: HOOK_TOKEN,
        apiBase: limited.url,
        now: () => now,
      });
      const charge = await g.createCharge(input({ notificationUrl: hooks.url }));
      const lookups = () =>
        limited.lastRequests.filter((r) => r.path === `/api/transactions/${charge.gatewayChargeId}`).length;
      assert.equal((await g.getCharge(charge.gatewayChargeId)).status, 'pending');
      now += 20_000;
      assert.equal((await g.getCharge(charge.gatewayChargeId)).status, 'pending');
      assert.equal(lookups(), 1, 'the second read within the minute never reached PushinPay (429 there)');
      // Paid meanwhile: the token-bearing webhook is the newest state, and reads within the minute say so.
      await limited.pay(charge.gatewayChargeId);
      await limited.settled();
      const delivery = limited.deliveries.find((d) => d.body.includes(charge.gatewayChargeId))!;
      await g.verifyAndParseWebhook(asRequest(delivery));
      const read = await g.getCharge(charge.gatewayChargeId);
      assert.equal(read.status, 'paid');
      assert.equal(read.amount, 1990);
      assert.equal(read.orderId, charge.orderId);
      assert.equal(lookups(), 1);
      now += 60_000;
      assert.equal((await g.getCharge(charge.gatewayChargeId)).status, 'paid');
      assert.equal(lookups(), 2, 'a minute later PushinPay is asked again');
    } finally {
      await limited.close();
    }
  });

  it('a forged webhook does not change the state a read within the minute answers', async () => {
    const charge = await gateway.createCharge(input());
    assert.equal((await gateway.getCharge(charge.gatewayChargeId)).status, 'pending');
    const forged = JSON.stringify({ id: charge.gatewayChargeId, status: 'paid', value: '1990' });
    await assert.rejects(gateway.verifyAndParseWebhook(hook(forged, { 'x-pushinpay-token': 'guess' })), (e) =>
      assertCoded(e, 'UNAUTHORIZED'),
    );
    assert.equal((await gateway.getCharge(charge.gatewayChargeId)).status, 'pending');
  });

  it('an empty list with 200 is NOT_FOUND; garbage is UPSTREAM_FAILED', async () => {
    const replies = [
      { status: 200, body: '[]' },
      { status: 200, body: 'nope' },
      { status: 200, body: JSON.stringify({ id: 'A', status: 'paid', value: '19.90' }) },
      { status: 200, body: JSON.stringify({ id: 'A', status: 'mystery', value: 1 }) },
    ];
    const server = createServer((_req, res) => {
      const reply = replies.shift()!;
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const odd = createPushinPayGateway({
      token: TOKEN,
      webhookToken: HOOK_TOKEN,
      apiBase: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    try {
      await assert.rejects(odd.getCharge('A'), (e) => assertCoded(e, 'NOT_FOUND'));
      for (let i = 0; i < 3; i++)
        await assert.rejects(odd.getCharge('A'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
  });
});
