import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { hasError, parsePix } from 'pix-utils';
import { BotflowError } from '../../src/errors.ts';
import type { CreateChargeInput, PixGateway, WebhookRequest } from '../../src/payments/gateway.ts';
import { createMercadoPagoGateway } from '../../src/payments/mercado-pago.ts';
import { type MercadoPagoReplay, startMercadoPagoReplay } from '../../src/sim/mercado-pago-replay.ts';
import type { ReplayDelivery } from '../../src/sim/replay-http.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TOKEN = 'APP_USR-SHOULD_NEVER_LEAK-1234567890';
const SECRET = 'mp-webhook-secret-SHOULD_NEVER_LEAK';

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

/** The webhook as the adapter receives it: headers, the query Mercado Pago appended, the raw body. */
const asRequest = (d: ReplayDelivery): WebhookRequest => ({
  headers: d.headers,
  query: Object.fromEntries(new URL(d.url).searchParams),
  rawBody: Buffer.from(d.body),
});

describe('Mercado Pago adapter against the replay server (real HTTP)', () => {
  let replay: MercadoPagoReplay;
  let hooks: WebhookReceiver;
  let gateway: PixGateway;
  const clock = Date.parse('2026-11-22T12:00:00Z');
  let seq = 0;
  before(async () => {
    replay = await startMercadoPagoReplay({ accessToken: TOKEN, webhookSecret: SECRET, now: () => clock });
    hooks = await startWebhookReceiver();
    gateway = createMercadoPagoGateway({
      accessToken: TOKEN,
      webhookSecret: SECRET,
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
      amount: 4990,
      description: 'VIP',
      expiresInSeconds: 1800,
      notificationUrl: hooks.url,
      ...overrides,
    };
  };
  const deliveriesFor = (id: string) =>
    replay.deliveries.filter((d) => new URL(d.url).searchParams.get('data.id') === id);
  const signed = (
    dataId: string,
    body: string,
    o: { ts?: string; secret?: string; requestId?: string } = {},
  ) => {
    const ts = o.ts ?? String(Math.floor(clock / 1000));
    const requestId = o.requestId ?? 'req-1';
    const v1 = createHmac('sha256', o.secret ?? SECRET)
      .update(`id:${dataId};request-id:${requestId};ts:${ts};`)
      .digest('hex');
    return {
      headers: { 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': requestId },
      query: { 'data.id': dataId, type: 'payment' },
      rawBody: Buffer.from(body),
    };
  };

  it('creates a PIX payment in reais from centavos with a valid BR Code; a retried create is the same payment', async () => {
    const request = input({ amount: 1990 });
    const charge = await gateway.createCharge(request);
    assert.equal(gateway.id, 'mercadopago');
    assert.equal(charge.gateway, 'mercadopago');
    assert.equal(charge.status, 'pending');
    assert.equal(charge.amount, 1990);
    assert.equal(charge.orderId, request.orderId);
    assert.equal(charge.expiresAt, clock + 1_800_000);
    assert.ok(charge.qrImageBase64 !== undefined && Buffer.from(charge.qrImageBase64, 'base64').length > 100);
    const parsed = parsePix(charge.brCode);
    assert.ok(!hasError(parsed) && parsed.type === 'STATIC' && parsed.transactionAmount === 19.9);
    const sent = replay.lastRequests.at(-1)!;
    assert.equal(sent.headers['x-idempotency-key'], request.idempotencyKey);
    assert.match(sent.body, /"transaction_amount":19\.9[,}]/);
    assert.match(sent.body, /"payment_method_id":"pix"/);
    assert.match(sent.body, /"date_of_expiration":"2026-11-22T09:30:00\.000-03:00"/);
    const again = await gateway.createCharge(request);
    assert.equal(again.gatewayChargeId, charge.gatewayChargeId);
    const made = [...replay.payments.values()].filter((p) => p.external_reference === request.orderId);
    assert.equal(made.length, 1);
  });

  it('round-trips centavos through reais exactly', async () => {
    for (const [cents, wire] of [
      [1, '0.01'],
      [1990, '19.9'],
      [123456789, '1234567.89'],
      [4999, '49.99'],
      [10001, '100.01'],
    ] as const) {
      const charge = await gateway.createCharge(input({ amount: cents }));
      assert.ok(replay.lastRequests.at(-1)!.body.includes(`"transaction_amount":${wire},`), wire);
      assert.equal(charge.amount, cents);
      assert.equal((await gateway.getCharge(charge.gatewayChargeId)).amount, cents);
    }
  });

  it('clamps the expiry into the 30-minute..30-day window Mercado Pago accepts', async () => {
    assert.equal((await gateway.createCharge(input({ expiresInSeconds: 60 }))).expiresAt, clock + 1_800_000);
    assert.equal(
      (await gateway.createCharge(input({ expiresInSeconds: 90 * 86400 }))).expiresAt,
      clock + 30 * 86_400_000,
    );
  });

  it('a paid payment sends a signed webhook the adapter verifies; getCharge then says paid', async () => {
    const charge = await gateway.createCharge(input());
    await replay.pay(charge.gatewayChargeId);
    await replay.settled();
    const delivery = deliveriesFor(charge.gatewayChargeId)[0];
    assert.ok(delivery);
    assert.ok(delivery.url.startsWith(hooks.url));
    const notice = await gateway.verifyAndParseWebhook(asRequest(delivery));
    const body = JSON.parse(delivery.body) as { id: number };
    assert.deepEqual(notice, {
      gatewayChargeId: charge.gatewayChargeId,
      dedupKey: `mercadopago:${body.id}`,
      authenticated: 'signature',
    });
    assert.equal(
      (await gateway.verifyAndParseWebhook(asRequest(delivery))).dedupKey,
      notice.dedupKey,
      'a redelivery dedupes',
    );
    const read = await gateway.getCharge(charge.gatewayChargeId);
    assert.equal(read.status, 'paid');
    assert.equal(read.paidAt, clock);
  });

  it('accepts a millisecond ts as well as seconds', async () => {
    const msReplay = await startMercadoPagoReplay({
      accessToken: TOKEN,
      webhookSecret: SECRET,
      now: () => clock,
      tsUnit: 'ms',
    });
    try {
      const msGateway = createMercadoPagoGateway({
        accessToken: TOKEN,
        webhookSecret: SECRET,
        apiBase: msReplay.url,
        now: () => clock,
      });
      const charge = await msGateway.createCharge(input());
      await msReplay.pay(charge.gatewayChargeId);
      await msReplay.settled();
      const delivery = msReplay.deliveries[0]!;
      assert.match(String(delivery.headers['x-signature']), /^ts=\d{13},/);
      assert.equal(
        (await msGateway.verifyAndParseWebhook(asRequest(delivery))).gatewayChargeId,
        charge.gatewayChargeId,
      );
    } finally {
      await msReplay.close();
    }
  });

  it('expiry is read as expired', async () => {
    const charge = await gateway.createCharge(input());
    await replay.expire(charge.gatewayChargeId);
    assert.equal((await gateway.getCharge(charge.gatewayChargeId)).status, 'expired');
  });

  it('forged, missing, malformed and stale signatures are UNAUTHORIZED', async () => {
    const body = JSON.stringify({ id: 77, type: 'payment', action: 'payment.updated', data: { id: '123' } });
    const good = signed('123', body);
    assert.equal((await gateway.verifyAndParseWebhook(good)).dedupKey, 'mercadopago:77');
    const now = Math.floor(clock / 1000);
    const forged: WebhookRequest[] = [
      signed('123', body, { secret: 'wrong' }),
      { ...good, headers: {} },
      { ...good, headers: { ...good.headers, 'x-signature': 'v1=abc' } },
      { ...good, headers: { ...good.headers, 'x-signature': 'garbage' } },
      { ...good, headers: { ...good.headers, 'x-signature': `ts=${now},v1=${'0'.repeat(64)}` } },
      { ...good, query: { 'data.id': '124', type: 'payment' } },
      { ...good, headers: { ...good.headers, 'x-request-id': 'req-2' } },
      signed('123', body, { ts: String(now - 301) }),
      signed('123', body, { ts: String(now + 301) }),
      signed('123', body, { ts: String(clock - 301_000) }),
    ];
    for (const request of forged)
      await assert.rejects(gateway.verifyAndParseWebhook(request), (e) => assertCoded(e, 'UNAUTHORIZED'));
    const mixedCase = signed('abc123', body.replace('"123"', '"ABC123"'));
    const upper = { ...mixedCase, query: { 'data.id': 'ABC123' } };
    assert.equal(
      (await gateway.verifyAndParseWebhook(upper)).gatewayChargeId,
      'ABC123',
      'alphanumeric ids sign lowercased',
    );
  });

  it('a correctly signed webhook with a malformed body or query is BAD_REQUEST', async () => {
    const cases: WebhookRequest[] = [
      signed('123', '{not json'),
      signed('123', '[1]'),
      signed('123', JSON.stringify({ id: 1, type: 'merchant_order', data: { id: '123' } })),
      signed('123', JSON.stringify({ id: 1, type: 'payment', data: { id: '999' } })),
      { ...signed('123', '{}'), query: {} },
    ];
    for (const request of cases)
      await assert.rejects(gateway.verifyAndParseWebhook(request), (e) => assertCoded(e, 'BAD_REQUEST'));
  });

  it('refunds part then all of a paid payment, once per identical request', async () => {
    const charge = await gateway.createCharge(input({ amount: 1990 }));
    await assert.rejects(gateway.refund!(charge.gatewayChargeId), (e) => assertCoded(e, 'BAD_REQUEST'));
    await replay.pay(charge.gatewayChargeId);
    const partial = await gateway.refund!(charge.gatewayChargeId, 990);
    assert.equal(partial.status, 'paid');
    const retried = await gateway.refund!(charge.gatewayChargeId, 990);
    assert.equal(retried.status, 'paid');
    assert.equal(
      replay.payments.get(charge.gatewayChargeId)!.transaction_amount_refunded,
      9.9,
      'refunded once',
    );
    const sent = replay.lastRequests.filter((r) => r.path.endsWith('/refunds'));
    assert.match(sent.at(-1)!.body, /"amount":9\.9\b/);
    assert.equal(sent.at(-1)!.headers['x-render-in-process-refunds'], 'true');
    const full = await gateway.refund!(charge.gatewayChargeId);
    assert.equal(full.status, 'refunded');
    assert.equal(full.amount, 1990);
  });

  it('maps failures to codes and never leaks a credential', async () => {
    const wrong = createMercadoPagoGateway({
      accessToken: 'APP_USR-SHOULD_NEVER_LEAK-wrong',
      webhookSecret: SECRET,
      apiBase: replay.url,
    });
    await assert.rejects(wrong.createCharge(input()), (e) => assertCoded(e, 'UNAUTHORIZED'));
    await assert.rejects(gateway.getCharge('999'), (e) => assertCoded(e, 'NOT_FOUND'));
    await assert.rejects(gateway.getCharge('../x'), (e) => assertCoded(e, 'BAD_REQUEST'));
    await assert.rejects(gateway.createCharge(input({ amount: 0 })), (e) => assertCoded(e, 'BAD_REQUEST'));
    replay.injectError({ status: 500 });
    await assert.rejects(gateway.getCharge('1'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
    replay.injectError({ status: 429 });
    await assert.rejects(gateway.createCharge(input()), (e) => {
      assertCoded(e, 'UPSTREAM_FAILED');
      return (e as BotflowError).retryable;
    });
    replay.injectError({
      status: 400,
      body: { message: `bad token ${TOKEN}`, error: 'bad_request', status: 400 },
    });
    await assert.rejects(gateway.getCharge('1'), (e) => assertCoded(e, 'BAD_REQUEST'));
    const down = createMercadoPagoGateway({
      accessToken: TOKEN,
      webhookSecret: SECRET,
      apiBase: 'http://127.0.0.1:1',
    });
    await assert.rejects(down.getCharge('1'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
  });

  it('refuses garbage answers and redirects without leaking', async () => {
    const replies = [
      { status: 200, body: 'not json' },
      { status: 200, body: JSON.stringify({ id: 1, status: 'weird', transaction_amount: 1 }) },
      { status: 200, body: JSON.stringify({ id: 1, status: 'approved', transaction_amount: 0.105 }) },
      { status: 302, body: '', location: `http://127.0.0.1:1/?t=${TOKEN}` },
      { status: 503, body: `down ${TOKEN}` },
    ];
    const server = createServer((_req, res) => {
      const reply = replies.shift()!;
      res
        .writeHead(reply.status, reply.location === undefined ? {} : { location: reply.location })
        .end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const odd = createMercadoPagoGateway({
      accessToken: TOKEN,
      webhookSecret: SECRET,
      apiBase: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    try {
      for (let i = 0; i < 5; i++)
        await assert.rejects(odd.getCharge('1'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
  });
});
