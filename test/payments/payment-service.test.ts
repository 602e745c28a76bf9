/**
 * The payment service on its own: real Postgres for its ledger, the sandbox gateway over HTTP for
 * charges, signed webhooks and refunds; the conversation runtime is its `dispatch` port, recorded, so
 * each test sees exactly which event and records the service hands to the group commit. Last, the
 * charge path's reads inside the whole stack (bootstrap, Postgres, Redis, sandbox gateway).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { BotflowError } from '../../src/errors.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createPaymentRepository, type PaymentRepository } from '../../src/db/payment-repository.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { createPaymentService, type PaymentService } from '../../src/payments/payment-service.ts';
import type { PaymentRecord } from '../../src/payments/payment-record.ts';
import type { ChargeCreatedRecord } from '../../src/payments/payment-record-writers.ts';
import { createSandboxGateway } from '../../src/payments/sandbox.ts';
import type { Dispatch, DispatchResult, KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { inputKeys } from '../../src/runtime/input-keys.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import type { ClickPayload } from '../../src/tracking/click.ts';
import { buildInitiateCheckoutRow, buildPurchaseRow } from '../../src/tracking/conversion-rows.ts';
import type { PixelSettings } from '../../src/tracking/pixel-settings.ts';
import type { ResolvedTracking } from '../../src/tracking/resolve-tracking.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { ADMIN_TOKEN, startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

const BOT = 'pay-bot';
const PIXEL: PixelSettings = { pixel_id: 'px-pay', access_token: 'meta-secret' };
const CLICK: ClickPayload = {
  bot_id: BOT,
  slug: 'ad',
  created_at: 1_000,
  fbp: 'fb.1.1.42',
  user_agent: 'UA',
};
const RESOLVED: ResolvedTracking = { token: 'a'.repeat(32), payload: CLICK, source: 'user_binding' };
const BUYER = { email: 'buyer@example.com' };
const linkUrl = (slug: string) => `https://bots.example/r/${slug}`;

let fresh: FreshDatabase;
let db: DatabaseHandle;
let sql: ReturnType<typeof createSql>;
let ledger: PaymentRepository;
let sandbox: SandboxGateway;
let receiver: WebhookReceiver;
let dispatched: Dispatch[];
let resolutions: string[];
let revoked: string[];
let logged: Array<Record<string, unknown>>;
let pixel: PixelSettings | null;
let clock: number;
let service: PaymentService;
let nextUser = 500;

before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  sql = createSql(db.orm);
  ledger = createPaymentRepository(db.orm);
  sandbox = await startSandboxGateway({ retryBaseMs: 10, maxAttempts: 1 });
  receiver = await startWebhookReceiver();
});
after(async () => {
  await sandbox.close();
  await receiver.close();
  await db.close();
  await fresh.drop();
});

beforeEach(() => {
  dispatched = [];
  resolutions = [];
  revoked = [];
  logged = [];
  pixel = PIXEL;
  clock = Date.now();
  const gateway = createSandboxGateway({
    apiBase: sandbox.url,
    apiKey: 'sandbox-key',
    webhookSecret: 'sandbox-secret',
  });
  service = createPaymentService({
    payments: ledger,
    gatewayOf: async (botId) => {
      if (botId !== BOT) throw Object.assign(new Error(`no bot ${botId}`), { code: 'NOT_FOUND' });
      return gateway;
    },
    async dispatch(input): Promise<DispatchResult> {
      dispatched.push(input);
      return {
        applied: true,
        effects: [],
        currentStep: null,
        status: 'waiting',
        flowVersion: 1,
        restarted: false,
        created: false,
      };
    },
    async resolveTracking(_botId, _userId, purpose) {
      resolutions.push(purpose);
      return RESOLVED;
    },
    pixelOf: async () => pixel,
    buyerOf: async () => BUYER,
    linkUrl,
    webhookUrl: () => receiver.url,
    now: () => clock,
    logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
    revokeAccess: async (payment) => void revoked.push(payment.orderId),
  });
});

/** A conversation of a new buyer with an order placed `ageMs` ago; returns the order id and buyer. */
async function placeOrder(amountCents = 1990, ageMs = 0): Promise<{ orderId: string; userId: string }> {
  const userId = String(nextUser++);
  const orderId = `order-${userId}`;
  await sql(
    `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
     values ($1, $2, 'f', 1, '5', '{}', 1, 0)`,
    [BOT, userId],
  );
  await sql(
    `insert into payments (order_id, bot_id, user_id, flow_step_id, flow_order, amount_cents, description, expires_at, created_at)
     values ($1, $2, $3, 'pay', 'vip', $4, 'VIP', $5, $6)`,
    [
      orderId,
      BOT,
      userId,
      amountCents,
      new Date(clock + 30 * 60_000).toISOString(),
      new Date(clock - ageMs).toISOString(),
    ],
  );
  return { orderId, userId };
}

/** Runs the createCharge effect of an order, then commits its charge as the group commit would. */
async function charge(order: { orderId: string; userId: string }): Promise<string> {
  const effect = {
    type: 'createCharge',
    step: 'pay',
    order: 'vip',
    amount_cents: 1990,
    description: 'VIP',
    expires_in_minutes: 30,
    offer: null,
  } as const;
  const key = { key: order.orderId, botId: BOT, userId: order.userId, flowVersion: 1 };
  assert.equal(await service.handlers.createCharge({ ...key, effect: effect as never }), null);
  const created = dispatched.at(-1)!.records![0] as ChargeCreatedRecord;
  await sql(
    `update payments set gateway = 'sandbox', gateway_charge_id = $2, br_code = $3, tracking = $4 where order_id = $1`,
    [order.orderId, created.gatewayChargeId, created.brCode, JSON.stringify(RESOLVED)],
  );
  return created.gatewayChargeId;
}

/** The last webhook the sandbox delivered, as the payment route hands it to the service. */
async function lastWebhook() {
  await sandbox.settled();
  const hook = receiver.received.at(-1)!;
  return { headers: hook.headers, query: {}, rawBody: hook.rawBody };
}

const payment = async (orderId: string): Promise<PaymentRecord> => (await ledger.get(orderId))!;

describe('payment service: createCharge', () => {
  it('creates one gateway charge per order and commits it with its InitiateCheckout and payment.created', async () => {
    const order = await placeOrder();
    const chargeId = await charge(order);
    const stored = sandbox.charges.get(chargeId)!;
    assert.equal(stored.order_id, order.orderId);
    assert.equal(stored.idempotency_key, order.orderId);
    assert.equal(stored.amount_cents, 1990);
    assert.equal(stored.notification_url, receiver.url);
    assert.deepEqual(resolutions, ['charge'], 'the click is resolved once, for the charge');
    assert.deepEqual(dispatched, [
      {
        botId: BOT,
        userId: order.userId,
        event: { type: 'payment.created', order: 'vip', charge_id: chargeId, br_code: stored.br_code },
        inputKey: inputKeys.effectDone(order.orderId),
        records: [
          {
            kind: 'chargeCreated',
            orderId: order.orderId,
            gateway: 'sandbox',
            gatewayChargeId: chargeId,
            brCode: stored.br_code,
            expiresAt: stored.expires_at,
            tracking: RESOLVED,
          },
          buildInitiateCheckoutRow({
            pixel: PIXEL,
            userId: order.userId,
            click: CLICK,
            buyer: BUYER,
            at: clock,
            linkUrl,
            orderId: order.orderId,
            amountCents: 1990,
          }),
        ],
      },
    ]);
  });

  it('answers a retried effect of an already charged order from the ledger, creating no second charge', async () => {
    const order = await placeOrder();
    const chargeId = await charge(order);
    const charges = sandbox.charges.size;
    const effect = { type: 'createCharge', order: 'vip', expires_in_minutes: 30 } as never;
    const again = await service.handlers.createCharge({
      key: order.orderId,
      botId: BOT,
      userId: order.userId,
      flowVersion: 1,
      effect,
    });
    assert.deepEqual(again, {
      type: 'payment.created',
      order: 'vip',
      charge_id: chargeId,
      br_code: sandbox.charges.get(chargeId)!.br_code,
    });
    assert.equal(sandbox.charges.size, charges);
    assert.equal(dispatched.length, 1, 'only the first run dispatched');
  });

  it('gives a charge up as payment.create_failed for its order, with the reason code', () => {
    const item = {
      key: 'give-up',
      botId: 'b',
      userId: '1',
      flowVersion: 1,
      effect: { type: 'createCharge', order: 'vip', expires_in_minutes: 30 },
    } as never;
    assert.deepEqual(
      service.giveUpEvents.createCharge(item, new BotflowError('UPSTREAM_REJECTED', 'refused')),
      { type: 'payment.create_failed', order: 'vip', reason: 'UPSTREAM_REJECTED' },
    );
  });

  it('commits no conversion row when the bot has no pixel', async () => {
    pixel = null;
    const order = await placeOrder();
    await charge(order);
    assert.deepEqual(
      dispatched[0]!.records!.map((r) => r.kind),
      ['chargeCreated'],
    );
  });
});

describe('payment service: webhooks', () => {
  it('a verified paid webhook commits payment.paid with the status and the Purchase, once per order key', async () => {
    const order = await placeOrder();
    const chargeId = await charge(order);
    await sandbox.pay(chargeId);
    const paidAt = sandbox.charges.get(chargeId)!.paid_at!;
    assert.deepEqual(await service.handleWebhook(BOT, await lastWebhook()), { status: 'paid' });
    assert.deepEqual(dispatched.at(-1), {
      botId: BOT,
      userId: order.userId,
      event: { type: 'payment.paid', order: 'vip', step: 'pay' },
      inputKey: inputKeys.payment('paid', order.orderId),
      records: [
        { kind: 'paymentStatus', orderId: order.orderId, status: 'paid', at: paidAt },
        buildPurchaseRow({
          pixel: PIXEL,
          userId: order.userId,
          click: CLICK,
          buyer: BUYER,
          at: paidAt,
          linkUrl,
          orderId: order.orderId,
          amountCents: 1990,
        }),
      ],
    });
    assert.deepEqual(resolutions, ['charge', 'purchase']);
  });

  it('refuses a forged webhook as UNAUTHORIZED, logs who was refused, and dispatches nothing', async () => {
    const order = await placeOrder();
    await sandbox.pay(await charge(order));
    const hook = await lastWebhook();
    const forged = { ...hook, rawBody: Buffer.from(hook.rawBody.toString().replace('paid', 'paiD')) };
    dispatched = [];
    await assert.rejects(service.handleWebhook(BOT, forged), { code: 'UNAUTHORIZED' });
    assert.deepEqual(dispatched, []);
    const refusal = logged.find((line) => line['msg'] === 'payment webhook refused');
    assert.equal(refusal?.['code'], 'UNAUTHORIZED');
    assert.equal(refusal?.['bot_id'], BOT);
    assert.doesNotMatch(JSON.stringify(logged), /sandbox-secret|sandbox-key/);
  });

  it('flags a charge paid with another amount than the order: no payment.paid, the order grants nothing', async () => {
    const order = await placeOrder();
    const chargeId = await charge(order);
    await sql(`update payments set amount_cents = 2990 where order_id = $1`, [order.orderId]);
    await sandbox.pay(chargeId);
    dispatched = [];
    assert.deepEqual(await service.handleWebhook(BOT, await lastWebhook()), { status: 'flagged' });
    assert.deepEqual(dispatched, []);
    assert.match(
      (await payment(order.orderId)).flagged ?? '',
      /gateway reported 1990 BRL, order is 2990 BRL/,
    );
    assert.deepEqual(await service.handleWebhook(BOT, await lastWebhook()), { status: 'flagged' });
  });
});

describe('payment service: stale news', () => {
  it('an expired or failed notice for an order no longer pending commits nothing', async () => {
    const order = await placeOrder();
    const chargeId = await charge(order);
    await sandbox.pay(chargeId);
    await sql(`update payments set status = 'paid' where order_id = $1`, [order.orderId]);
    // The gateway now says expired (a provider's late correction), and says so in a webhook.
    sandbox.charges.get(chargeId)!.status = 'expired';
    sandbox.notify(chargeId, 'expired');
    dispatched = [];
    assert.deepEqual(await service.handleWebhook(BOT, await lastWebhook()), { status: 'expired' });
    assert.deepEqual(dispatched, []);
  });
});

describe('payment service: refunds', () => {
  it('refuses an unpaid order (CONFLICT) and an amount outside 1..paid (BAD_REQUEST)', async () => {
    const order = await placeOrder();
    await charge(order);
    await assert.rejects(service.refund(order.orderId), { code: 'CONFLICT' });
    await assert.rejects(service.refund('no-such-order'), { code: 'NOT_FOUND' });
    await sql(`update payments set status = 'paid' where order_id = $1`, [order.orderId]);
    await assert.rejects(service.refund(order.orderId, 0), { code: 'BAD_REQUEST' });
    await assert.rejects(service.refund(order.orderId, 1991), { code: 'BAD_REQUEST' });
    assert.deepEqual(revoked, []);
  });

  it('refunds a paid order at the gateway, marks it refunded and takes its access back', async () => {
    const order = await placeOrder();
    const chargeId = await charge(order);
    await sandbox.pay(chargeId);
    await sql(`update payments set status = 'paid' where order_id = $1`, [order.orderId]);
    assert.deepEqual(await service.refund(order.orderId), { status: 'refunded' });
    assert.equal(sandbox.charges.get(chargeId)!.status, 'refunded');
    assert.equal((await payment(order.orderId)).status, 'refunded');
    assert.deepEqual(revoked, [order.orderId]);
  });
});

describe('payment service: reconciliation', () => {
  it('asks the gateway about stale charges and commits what changed: an expired charge expires the order', async () => {
    const order = await placeOrder(1990, 5 * 60_000);
    const chargeId = await charge(order);
    await sandbox.expire(chargeId);
    dispatched = [];
    assert.equal(await service.reconcile(), 1);
    assert.deepEqual(dispatched, [
      {
        botId: BOT,
        userId: order.userId,
        event: { type: 'payment.expired', order: 'vip', step: 'pay' },
        inputKey: inputKeys.payment('expired', order.orderId),
        records: [{ kind: 'paymentStatus', orderId: order.orderId, status: 'expired', at: clock }],
      },
    ]);
    assert.equal(await service.reconcile(), 0, 'asked a moment ago: not again within the minute');
  });
});

// The charge path inside the whole stack: which rows it reads.
let h: VipFunnel;
/** Order ids the payment service read its payment row for. */
const reads: string[] = [];

/** Statements botflow's `pg` clients sent (the copy MikroORM loads), while `watching`. */
const statements: string[] = [];
let watching = false;
const ormPg = createRequire(import.meta.resolve('@mikro-orm/postgresql'))('pg') as {
  Client: { prototype: { query: (...args: unknown[]) => unknown } };
};
const query = ormPg.Client.prototype.query;
ormPg.Client.prototype.query = function watchedQuery(this: unknown, ...args: unknown[]) {
  const first = args[0] as string | { text?: string };
  if (watching) statements.push(typeof first === 'string' ? first : (first?.text ?? ''));
  return query.apply(this, args);
};

before(async () => {
  h = await startVipFunnel(7200000041);
  const payments = h.app.funnel.payments;
  const get = payments.get.bind(payments);
  payments.get = (orderId) => {
    reads.push(orderId);
    return get(orderId);
  };
});
after(async () => {
  ormPg.Client.prototype.query = query;
  await h.close();
});

describe('createCharge (bootstrap, Postgres, Redis, sandbox gateway)', () => {
  it('a first run reads no payment row: the effect carries the order; a recovered run reads it and charges nothing more', async () => {
    const orderId = await h.checkout(901);
    await h.settle();
    assert.deepEqual(reads, [], 'the charge path read no payment');
    const charge = h.chargeOf(901);
    // The amount and description came from the effect (the VIP Mensal offer).
    assert.equal(charge.amount_cents, 2990);
    assert.equal(charge.description, 'Grupo VIP - 30 dias');
    const payment = await h.app.funnel.payments.get(orderId);
    assert.equal(payment!.gatewayChargeId, charge.id);
    reads.length = 0;

    // The same effect found pending by an outbox read (a crash before its done-mark): it reads the row
    // and answers with the stored charge; the gateway sees no second create.
    const rows = await createSql(h.app.db.orm)<{ effect: KeyedEffect['effect']; flow_version: number }>(
      `select effect, flow_version from effects where idempotency_key = $1`,
      [orderId],
    );
    const item: KeyedEffect = {
      key: orderId,
      botId: 'tbot',
      userId: '901',
      flowVersion: rows[0]!.flow_version,
      effect: rows[0]!.effect,
    };
    const creates = h.sandbox.charges.size;
    const event = await h.app.funnel.effectHandlers['createCharge']!(item, { firstRun: false });
    assert.deepEqual(reads, [orderId]);
    assert.equal(h.sandbox.charges.size, creates);
    assert.deepEqual(event, {
      type: 'payment.created',
      order: (item.effect as { order: string }).order,
      charge_id: charge.id,
      br_code: payment!.brCode,
    });
  });

  it("resolves the buyer's click without reading bot_users when this owner committed their /start", async () => {
    statements.length = 0;
    watching = true;
    let orderId: string;
    try {
      orderId = await h.checkout(902);
      await h.settle();
    } finally {
      watching = false;
    }
    assert.ok(statements.length > 0, 'the watch sees the statements');
    assert.deepEqual(
      statements.filter((s) => /bot_users/.test(s) && /^\s*select/i.test(s)),
      [],
      'no binding read',
    );
    // The binding the /start wrote (none: a plain /start) is what the charge stored.
    const [row] = await createSql(h.app.db.orm)<{ tracking_token: string | null }>(
      `select tracking_token from bot_users where bot_id = 'tbot' and user_id = 902`,
    );
    assert.equal(row!.tracking_token, null);
    const payment = await h.app.funnel.payments.get(orderId);
    assert.deepEqual(payment!.tracking, { token: null, payload: null, source: 'none' });
  });
  it('a charge its gateway refuses is given up and its conversation told: the flow moves on to its retry step', async () => {
    const patch = (apiKey: string, webhookSecret = 'sandbox-secret') =>
      fetch(`${h.app.url}/admin/bots/tbot`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          gateway: {
            kind: 'sandbox',
            api_base: h.sandbox.url,
            api_key: apiKey,
            webhook_secret: webhookSecret,
          },
        }),
      });
    const refused = await patch('not-the-sandbox-key');
    assert.equal(refused.status, 200, await refused.text());
    try {
      const orderId = await h.checkout(903);
      await h.settle();
      const [effect] = await createSql(h.app.db.orm)<{ status: string; last_error: string }>(
        `select status, last_error from effects where idempotency_key = $1`,
        [orderId],
      );
      assert.equal(effect?.status, 'dead');
      assert.match(effect?.last_error ?? '', /^UNAUTHORIZED/);
      // payment.create_failed reached the conversation: the VIP flow's pay step retries at the offers,
      // which the buyer is shown again.
      const sent = h.sentTo(903, 'sendMessage').map((c) => String(c.params['text']));
      assert.deepEqual(sent, ['Qual é o seu melhor e-mail?', 'Escolha o seu plano:', 'Escolha o seu plano:']);
      assert.equal((await h.app.funnel.payments.get(orderId))?.gatewayChargeId, null);
    } finally {
      // Back to the harness's own settings (test/support/start-stack.ts).
      assert.equal((await patch('k')).status, 200);
    }
  });
});
