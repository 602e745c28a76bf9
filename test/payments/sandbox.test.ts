import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { hasError, parsePix } from 'pix-utils';
import { BotflowError } from '../../src/errors.ts';
import type { CreateChargeInput, PixGateway, WebhookRequest } from '../../src/payments/gateway.ts';
import { createSandboxGateway } from '../../src/payments/sandbox.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const KEY = 'sk_live_SHOULD_NEVER_LEAK_42';
const SECRET = 'whsec_adapter_test';

/** Asserts an error is a BotflowError with `code` whose every rendering omits the API key. */
function assertCoded(error: unknown, code: string): true {
  assert.ok(error instanceof BotflowError, String(error));
  assert.equal(error.code, code);
  for (const text of [
    error.message,
    JSON.stringify(error),
    inspect(error, { depth: 10 }),
    String(error.stack),
  ])
    assert.doesNotMatch(text, /SHOULD_NEVER_LEAK/);
  return true;
}
const isCode = (code: string) => (error: unknown) => assertCoded(error, code);

describe('sandbox PixGateway adapter against the sandbox gateway (real HTTP)', () => {
  let sandbox: SandboxGateway;
  let hooks: WebhookReceiver;
  let gateway: PixGateway;
  let clock = Date.parse('2026-11-22T12:00:00Z');
  let seq = 0;
  before(async () => {
    sandbox = await startSandboxGateway({
      apiKey: KEY,
      webhookSecret: SECRET,
      now: () => clock,
      retryBaseMs: 5,
    });
    hooks = await startWebhookReceiver();
    gateway = createSandboxGateway({
      apiBase: sandbox.url,
      apiKey: KEY,
      webhookSecret: SECRET,
      now: () => clock,
    });
  });
  after(async () => {
    await sandbox.close();
    await hooks.close();
  });

  const input = (overrides: Partial<CreateChargeInput> = {}): CreateChargeInput => {
    const orderId = `ord-${++seq}`;
    return {
      orderId,
      idempotencyKey: `order:${orderId}`,
      amount: 4990,
      description: 'Mentoria',
      expiresInSeconds: 1800,
      notificationUrl: hooks.url,
      ...overrides,
    };
  };
  const asRequest = (hook: { headers: WebhookRequest['headers']; rawBody: Buffer }): WebhookRequest => ({
    headers: hook.headers,
    query: {},
    rawBody: hook.rawBody,
  });
  const signed = (body: string, t = Math.floor(clock / 1000), secret = SECRET): WebhookRequest => ({
    headers: {
      'x-sandbox-signature': `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`,
    },
    query: {},
    rawBody: Buffer.from(body),
  });

  it('creates a charge in centavos with a valid BR Code and a QR link; a retried create is the same charge', async () => {
    const request = input({ amount: 12345 });
    const charge = await gateway.createCharge(request);
    assert.equal(charge.gateway, 'sandbox');
    assert.equal(gateway.id, 'sandbox');
    assert.equal(charge.status, 'pending');
    assert.equal(charge.amount, 12345);
    assert.equal(charge.currency, 'BRL');
    assert.equal(charge.orderId, request.orderId);
    assert.equal(charge.expiresAt, clock + 1_800_000);
    assert.equal(charge.paidAt, undefined);
    const parsed = parsePix(charge.brCode);
    assert.ok(!hasError(parsed) && parsed.type === 'STATIC' && parsed.transactionAmount === 123.45);
    assert.equal(charge.qrImageUrl, `${sandbox.url}/v1/charges/${charge.gatewayChargeId}/qr.png`);
    const png = await fetch(charge.qrImageUrl!);
    assert.equal(png.headers.get('content-type'), 'image/png');
    const again = await gateway.createCharge(request);
    assert.equal(again.gatewayChargeId, charge.gatewayChargeId);
    assert.equal(sandbox.charges.get(charge.gatewayChargeId)?.idempotency_key, request.idempotencyKey);
  });

  it('pay() sends a webhook the adapter verifies; getCharge then says paid', async () => {
    const charge = await gateway.createCharge(input());
    await sandbox.pay(charge.gatewayChargeId);
    await sandbox.settled();
    const hook = hooks.received.find((h) => h.json['charge_id'] === charge.gatewayChargeId);
    assert.ok(hook);
    const notice = await gateway.verifyAndParseWebhook(asRequest(hook));
    assert.deepEqual(notice, {
      gatewayChargeId: charge.gatewayChargeId,
      dedupKey: `sandbox:${String(hook.json['id'])}`,
      claimedStatus: 'paid',
      authenticated: 'signature',
    });
    const read = await gateway.getCharge(charge.gatewayChargeId);
    assert.equal(read.status, 'paid');
    assert.equal(read.paidAt, clock);
  });

  it('refunds part then all of a paid charge; each refund is announced and read back', async () => {
    const charge = await gateway.createCharge(input({ amount: 5000 }));
    await assert.rejects(gateway.refund!(charge.gatewayChargeId), isCode('CONFLICT'), 'not paid yet');
    await sandbox.pay(charge.gatewayChargeId);
    const partial = await gateway.refund!(charge.gatewayChargeId, 1500);
    assert.equal(partial.status, 'paid');
    assert.equal(sandbox.charges.get(charge.gatewayChargeId)?.refunded_cents, 1500);
    await assert.rejects(gateway.refund!(charge.gatewayChargeId, 3501), isCode('BAD_REQUEST'));
    const rest = await gateway.refund!(charge.gatewayChargeId);
    assert.equal(rest.status, 'refunded');
    assert.equal(rest.amount, 5000);
    assert.equal((await gateway.getCharge(charge.gatewayChargeId)).status, 'refunded');
    await assert.rejects(gateway.refund!(charge.gatewayChargeId), isCode('CONFLICT'));
    await assert.rejects(gateway.refund!(charge.gatewayChargeId, 1.5), isCode('BAD_REQUEST'));
    await assert.rejects(gateway.refund!('ch_unknown'), isCode('NOT_FOUND'));
    await sandbox.settled();
    const claims = hooks.received
      .filter((h) => h.json['charge_id'] === charge.gatewayChargeId)
      .map((h) => h.json['status']);
    assert.deepEqual(claims, ['paid', 'paid', 'refunded']);
    const last = hooks.received.findLast((h) => h.json['charge_id'] === charge.gatewayChargeId)!;
    const notice = await gateway.verifyAndParseWebhook(asRequest(last));
    assert.equal(notice.claimedStatus, 'refunded');
  });

  it('duplicated deliveries yield the same dedupKey', async () => {
    const charge = await gateway.createCharge(input());
    sandbox.setDelivery({ duplicates: 2 });
    await sandbox.pay(charge.gatewayChargeId);
    await sandbox.settled();
    sandbox.setDelivery({ duplicates: 1 });
    const notices = await Promise.all(
      hooks.received
        .filter((h) => h.json['charge_id'] === charge.gatewayChargeId)
        .map((h) => gateway.verifyAndParseWebhook(asRequest(h))),
    );
    assert.equal(notices.length, 2);
    assert.equal(notices[0]!.dedupKey, notices[1]!.dedupKey);
  });

  it('expire() is announced and read as expired', async () => {
    const charge = await gateway.createCharge(input({ expiresInSeconds: 30 }));
    clock += 31_000;
    assert.equal((await gateway.getCharge(charge.gatewayChargeId)).status, 'expired', 'lazily');
    await sandbox.expire(charge.gatewayChargeId);
    await sandbox.settled();
    const hook = hooks.received.find((h) => h.json['charge_id'] === charge.gatewayChargeId);
    assert.ok(hook);
    assert.equal((await gateway.verifyAndParseWebhook(asRequest(hook))).claimedStatus, 'expired');
  });

  it('forged, missing, malformed and stale signatures are UNAUTHORIZED', async () => {
    const body = JSON.stringify({ id: 'evt_1', type: 'charge.updated', charge_id: 'ch_1', status: 'paid' });
    const good = signed(body);
    assert.equal((await gateway.verifyAndParseWebhook(good)).dedupKey, 'sandbox:evt_1');
    const forged: WebhookRequest[] = [
      { ...good, rawBody: Buffer.from(body.replace('paid', 'paid ')) },
      signed(body, undefined, 'wrong-secret'),
      { ...good, headers: {} },
      { ...good, headers: { 'x-sandbox-signature': 'v1=abc' } },
      { ...good, headers: { 'x-sandbox-signature': 'garbage' } },
      { ...good, headers: { 'x-sandbox-signature': `t=${Math.floor(clock / 1000)},v1=${'0'.repeat(64)}` } },
      signed(body, Math.floor(clock / 1000) - 301),
      signed(body, Math.floor(clock / 1000) + 301),
    ];
    for (const request of forged)
      await assert.rejects(gateway.verifyAndParseWebhook(request), (e) => assertCoded(e, 'UNAUTHORIZED'));
    const rotated = {
      ...good,
      headers: {
        'X-Sandbox-Signature': `${String(good.headers['x-sandbox-signature'])},v1=${'a'.repeat(64)}`,
      },
    };
    assert.equal((await gateway.verifyAndParseWebhook(rotated)).gatewayChargeId, 'ch_1', 'any v1 may match');
  });

  it('a correctly signed body that is not JSON or lacks ids is BAD_REQUEST', async () => {
    for (const body of [
      '{not json',
      '[]',
      JSON.stringify({ id: 'evt_2' }),
      JSON.stringify({ charge_id: 'c' }),
    ])
      await assert.rejects(gateway.verifyAndParseWebhook(signed(body)), (e) => assertCoded(e, 'BAD_REQUEST'));
  });

  it('maps gateway failures to codes and never leaks the API key', async () => {
    const wrongKey = createSandboxGateway({
      apiBase: sandbox.url,
      apiKey: 'sk_live_SHOULD_NEVER_LEAK_wrong',
      webhookSecret: SECRET,
    });
    await assert.rejects(wrongKey.getCharge('ch_x'), (e) => assertCoded(e, 'UNAUTHORIZED'));
    await assert.rejects(gateway.createCharge(input({ amount: 0 })), (e) => assertCoded(e, 'BAD_REQUEST'));
    await assert.rejects(gateway.createCharge(input({ amount: 1.5 })), (e) => assertCoded(e, 'BAD_REQUEST'));
    await assert.rejects(gateway.getCharge('ch_missing'), (e) => assertCoded(e, 'NOT_FOUND'));
    sandbox.injectError({ status: 503 });
    await assert.rejects(gateway.getCharge('ch_x'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
    const down = createSandboxGateway({ apiBase: 'http://127.0.0.1:1', apiKey: KEY, webhookSecret: SECRET });
    await assert.rejects(down.createCharge(input()), (e) => {
      assertCoded(e, 'UPSTREAM_FAILED');
      return (e as BotflowError).retryable;
    });
  });

  it('a server echoing the key in its error text or answering garbage still yields clean errors', async () => {
    const replies = [
      { status: 400, body: JSON.stringify({ error: { code: 'x', message: `bad key ${KEY}` } }) },
      { status: 200, body: 'not json' },
      { status: 200, body: JSON.stringify({ id: 'ch_1', status: 'weird' }) },
      { status: 500, body: `oops ${KEY}` },
    ];
    const server = createServer((_req, res) => {
      const reply = replies.shift()!;
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const odd = createSandboxGateway({ apiBase, apiKey: KEY, webhookSecret: SECRET });
    try {
      await assert.rejects(odd.getCharge('a'), (e) => assertCoded(e, 'BAD_REQUEST'));
      await assert.rejects(odd.getCharge('a'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
      await assert.rejects(odd.getCharge('a'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
      await assert.rejects(odd.getCharge('a'), (e) => assertCoded(e, 'UPSTREAM_FAILED'));
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
  });
});
