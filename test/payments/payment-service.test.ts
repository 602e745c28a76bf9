import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

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
});
