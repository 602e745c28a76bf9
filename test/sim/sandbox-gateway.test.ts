import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { hasError, parsePix } from 'pix-utils';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const KEY = 'sk_sandbox_test_0123456789';
const SECRET = 'whsec_test';

/** CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), written independently of pix-utils. */
function crc16(text: string): string {
  let crc = 0xffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc.toString(16).toUpperCase().padStart(4, '0');
}

describe('sandbox PIX gateway (real HTTP)', () => {
  let gw: SandboxGateway;
  let hooks: WebhookReceiver;
  let clock = Date.parse('2026-11-22T12:00:00Z');
  let seq = 0;
  before(async () => {
    gw = await startSandboxGateway({ apiKey: KEY, webhookSecret: SECRET, now: () => clock, retryBaseMs: 5 });
    hooks = await startWebhookReceiver();
  });
  after(async () => {
    await gw.close();
    await hooks.close();
  });

  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const chargeBody = (overrides: Record<string, unknown> = {}) => ({
    order_id: `order-${++seq}`,
    amount_cents: 2990,
    description: 'Curso',
    expires_in_seconds: 900,
    notification_url: hooks.url,
    ...overrides,
  });
  const create = async (overrides: Record<string, unknown> = {}, key = `idem-${++seq}`) => {
    const res = await api('POST', '/v1/charges', chargeBody(overrides), { 'idempotency-key': key });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; br_code: string; status: string; expires_at: number };
  };
  const eventsFor = (id: string) => hooks.received.filter((r) => r.json['charge_id'] === id);

  it('creates a pending charge (201) and the same Idempotency-Key returns it again (200)', async () => {
    const body = chargeBody();
    const first = await api('POST', '/v1/charges', body, { 'idempotency-key': 'k-1' });
    assert.equal(first.status, 201);
    const charge = (await first.json()) as Record<string, unknown>;
    assert.equal(charge['status'], 'pending');
    assert.equal(charge['amount_cents'], 2990);
    assert.equal(charge['expires_at'], clock + 900_000);
    const again = await api('POST', '/v1/charges', body, { 'idempotency-key': 'k-1' });
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as Record<string, unknown>)['id'], charge['id']);
    assert.equal([...gw.charges.values()].filter((c) => c.idempotency_key === 'k-1').length, 1);
    const reused = await api(
      'POST',
      '/v1/charges',
      { ...body, amount_cents: 1 },
      { 'idempotency-key': 'k-1' },
    );
    assert.equal(reused.status, 409, 'a key reused with other parameters is refused');
  });

  it('validates: Idempotency-Key required, amount a positive integer, fields typed (400 invalid_request)', async () => {
    const noKey = await api('POST', '/v1/charges', chargeBody());
    assert.equal(noKey.status, 400);
    for (const bad of [
      { amount_cents: 0 },
      { amount_cents: 12.5 },
      { amount_cents: '100' },
      { order_id: '' },
      { expires_in_seconds: 0 },
      { notification_url: 'ftp://x' },
      { description: 7 },
    ]) {
      const res = await api('POST', '/v1/charges', chargeBody(bad), { 'idempotency-key': `bad-${++seq}` });
      assert.equal(res.status, 400, JSON.stringify(bad));
      const error = ((await res.json()) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'invalid_request');
      assert.ok(error.message.length > 0);
    }
    const notJson = await fetch(`${gw.url}/v1/charges`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'idempotency-key': 'nj' },
      body: '{oops',
    });
    assert.equal(notJson.status, 400);
  });

  it('refuses a wrong or missing API key with 401 unauthorized', async () => {
    for (const authorization of ['Bearer wrong-key', '', `Basic ${KEY}`]) {
      const res = await fetch(`${gw.url}/v1/charges/whatever`, { headers: { authorization } });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
    }
  });

  it('every BR Code parses with pix-utils, its CRC holds and its amount matches (50 random amounts)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10_000_000_000 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
        async (amount, orderId) => {
          const charge = await create({ amount_cents: amount, order_id: orderId });
          const code = charge.br_code;
          assert.equal(code.slice(-8, -4), '6304');
          assert.equal(code.slice(-4), crc16(code.slice(0, -4)), 'CRC-16/CCITT-FALSE');
          const parsed = parsePix(code);
          assert.ok(!hasError(parsed), code);
          assert.equal(parsed.type, 'STATIC');
          if (parsed.type !== 'STATIC') return;
          assert.equal(Math.round(parsed.transactionAmount! * 100), amount);
          assert.match(code, new RegExp(`54\\d\\d${(amount / 100).toFixed(2).replace('.', '\\.')}`));
          assert.equal(parsed.txid, charge.id.replace('_', ''));
          assert.equal(parsed.merchantName, 'BOTFLOW SANDBOX');
          assert.equal(parsed.pixKey, 'sandbox@botflow.dev');
          assert.match(code, /^0002010102122/, 'single-use point of initiation (12)');
        },
      ),
      { numRuns: 50 },
    );
  });

  it('serves the QR as image/png (public link), 404 for an unknown charge', async () => {
    const charge = await create();
    const res = await fetch(`${gw.url}/v1/charges/${charge.id}/qr.png`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const png = Buffer.from(await res.arrayBuffer());
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.length > 200);
    assert.equal((await fetch(`${gw.url}/v1/charges/ch_nope/qr.png`)).status, 404);
    assert.equal((await api('GET', '/v1/charges/ch_nope')).status, 404);
  });

  it('pay() delivers one signed charge.updated webhook; GET then reads paid', async () => {
    const charge = await create();
    await gw.pay(charge.id);
    await gw.settled();
    const [hook, ...rest] = eventsFor(charge.id);
    assert.equal(rest.length, 0);
    assert.ok(hook);
    assert.equal(hook.json['type'], 'charge.updated');
    assert.equal(hook.json['status'], 'paid');
    assert.equal(hook.json['amount_cents'], 2990);
    assert.match(String(hook.json['id']), /^evt_/);
    const header = String(hook.headers['x-sandbox-signature']);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
    assert.equal(Number(t), Math.floor(clock / 1000));
    const expected = createHmac('sha256', SECRET)
      .update(`${t}.${hook.rawBody.toString('utf8')}`)
      .digest('hex');
    assert.equal(v1, expected);
    const read = (await (await api('GET', `/v1/charges/${charge.id}`)).json()) as Record<string, unknown>;
    assert.equal(read['status'], 'paid');
    assert.equal(read['paid_at'], clock);
    await assert.rejects(gw.pay(charge.id), { code: 'CONFLICT' }, 'a paid charge cannot be paid again');
  });

  it('the HTTP actions do what the methods do (pay, fail; 409 on a settled charge, 404 unknown)', async () => {
    const a = await create();
    const paid = await api('POST', `/v1/charges/${a.id}/pay`);
    assert.equal(paid.status, 200);
    assert.equal(((await paid.json()) as Record<string, unknown>)['status'], 'paid');
    assert.equal((await api('POST', `/v1/charges/${a.id}/fail`)).status, 409);
    const b = await create();
    assert.equal((await api('POST', `/v1/charges/${b.id}/fail`)).status, 200);
    assert.equal((await api('POST', '/v1/charges/ch_nope/pay')).status, 404);
    assert.equal((await fetch(`${gw.url}/v1/charges/${b.id}/pay`, { method: 'POST' })).status, 401);
    await gw.settled();
    assert.deepEqual(
      [...eventsFor(a.id), ...eventsFor(b.id)].map((h) => h.json['status']),
      ['paid', 'failed'],
    );
  });

  it('a charge past expires_at reads expired (no webhook) until expire() announces it', async () => {
    const charge = await create({ expires_in_seconds: 60 });
    clock += 61_000;
    const read = (await (await api('GET', `/v1/charges/${charge.id}`)).json()) as Record<string, unknown>;
    assert.equal(read['status'], 'expired');
    await gw.settled();
    assert.equal(eventsFor(charge.id).length, 0, 'lazy expiry sends nothing');
    await assert.rejects(gw.pay(charge.id), { code: 'CONFLICT' }, 'an expired charge cannot be paid');
    await gw.expire(charge.id);
    await gw.settled();
    assert.deepEqual(
      eventsFor(charge.id).map((h) => h.json['status']),
      ['expired'],
    );
    assert.equal(gw.charges.get(charge.id)?.status, 'expired');
  });

  it('duplicates: N deliveries of the same event id', async () => {
    const charge = await create();
    gw.setDelivery({ duplicates: 3 });
    await gw.pay(charge.id);
    await gw.settled();
    gw.setDelivery({ duplicates: 1 });
    const ids = eventsFor(charge.id).map((h) => h.json['id']);
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 1);
  });

  it('retries with backoff: a receiver failing twice gets the event on attempt 3', async () => {
    const charge = await create();
    hooks.script([500, 503]);
    await gw.pay(charge.id);
    await gw.settled();
    assert.deepEqual(
      gw.deliveries.filter((d) => d.charge_id === charge.id).map((d) => [d.attempt, d.status]),
      [
        [1, 500],
        [2, 503],
        [3, 200],
      ],
    );
    assert.equal(new Set(eventsFor(charge.id).map((h) => h.json['id'])).size, 1, 'same event every time');
  });

  it('gives up after maxAttempts on connection errors', async () => {
    const charge = await create({ notification_url: 'http://127.0.0.1:1/hook' });
    await gw.fail(charge.id);
    await gw.settled();
    const attempts = gw.deliveries.filter((d) => d.charge_id === charge.id);
    assert.deepEqual(
      attempts.map((d) => d.attempt),
      [1, 2, 3, 4, 5],
    );
    assert.ok(attempts.every((d) => d.status === 'error'));
  });

  it('delay holds deliveries; reorder sends a held batch last-first', async () => {
    const a = await create();
    const b = await create();
    gw.setDelivery({ delayMs: 200, reorder: true });
    await gw.pay(a.id);
    await gw.fail(b.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(eventsFor(a.id).length + eventsFor(b.id).length, 0, 'still held');
    await gw.settled();
    gw.setDelivery({ delayMs: 0, reorder: false });
    const order = hooks.received
      .filter((h) => h.json['charge_id'] === a.id || h.json['charge_id'] === b.id)
      .map((h) => h.json['charge_id']);
    assert.deepEqual(order, [b.id, a.id]);
  });

  it('POST /refund: 401 without the key, 409 unless paid, 400 for a bad amount, 404 unknown, then refunded', async () => {
    const charge = await create();
    const refund = (body?: unknown, key = KEY) =>
      fetch(`${gw.url}/v1/charges/${charge.id}/refund`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    assert.equal((await refund(undefined, 'wrong')).status, 401);
    assert.equal((await refund()).status, 409);
    await gw.pay(charge.id);
    assert.equal((await refund({ amount_cents: 0 })).status, 400);
    assert.equal((await refund({ amount_cents: 2991 })).status, 400);
    assert.equal((await refund('x')).status, 400);
    assert.equal((await api('POST', '/v1/charges/ch_nope/refund')).status, 404);
    const done = await refund({ amount_cents: 2990 });
    assert.equal(done.status, 200);
    const body = (await done.json()) as { status: string; refunded_cents: number };
    assert.deepEqual([body.status, body.refunded_cents], ['refunded', 2990]);
    await gw.settled();
    assert.deepEqual(
      eventsFor(charge.id).map((h) => h.json['status']),
      ['paid', 'refunded'],
    );
  });

  it('notify sends a signed claim without changing the charge; onCreate runs before the create answer', async () => {
    const charge = await create();
    const eventId = gw.notify(charge.id, 'expired');
    await gw.settled();
    assert.deepEqual(
      eventsFor(charge.id).map((h) => [h.json['id'], h.json['status']]),
      [[eventId, 'expired']],
    );
    assert.equal(gw.charges.get(charge.id)?.status, 'pending');
    gw.onCreate(async (c) => gw.pay(c.id));
    try {
      const paid = await create();
      assert.equal(paid.status, 'paid', 'the create answer already shows the hook’s payment');
    } finally {
      gw.onCreate(null);
    }
    assert.equal((await create()).status, 'pending');
  });

  it('concurrent duplicates are all in flight at once', async () => {
    const charge = await create();
    gw.setDelivery({ duplicates: 4, concurrent: true });
    hooks.hold();
    try {
      await gw.pay(charge.id);
      // All four copies reach the receiver while none has been answered.
      while (eventsFor(charge.id).length < 4) await new Promise((r) => setTimeout(r, 5));
      assert.equal(gw.deliveries.filter((d) => d.charge_id === charge.id).length, 0, 'none answered yet');
    } finally {
      hooks.release();
      gw.setDelivery({ duplicates: 1, concurrent: false });
    }
    await gw.settled();
    assert.equal(gw.deliveries.filter((d) => d.charge_id === charge.id && d.status === 200).length, 4);
  });

  it('injected errors answer API requests like an outage, then clear', async () => {
    gw.injectError({ status: 503, times: 1 });
    assert.equal((await api('GET', '/v1/charges/ch_nope')).status, 503);
    assert.equal((await api('GET', '/v1/charges/ch_nope')).status, 404);
  });
});
