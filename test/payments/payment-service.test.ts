import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

let h: VipFunnel;
/** Order ids the payment service read its payment row for. */
const reads: string[] = [];

before(async () => {
  h = await startVipFunnel(7200000041);
  const payments = h.app.funnel.payments;
  const get = payments.get.bind(payments);
  payments.get = (orderId) => {
    reads.push(orderId);
    return get(orderId);
  };
});
after(() => h.close());

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
});
