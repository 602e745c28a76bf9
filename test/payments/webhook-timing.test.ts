import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasError, parsePix } from 'pix-utils';
import { linkNameFor } from '../../src/bot/telegram-effects.ts';
import { createSql } from '../../src/db/sql-client.ts';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { startVipFunnel, VIP_CHAT, type VipFunnel } from '../support/vip-funnel.ts';

const DAY = 86_400_000;
const isCharge = (c: { params: Record<string, unknown> }) =>
  /PIX copia e cola/.test(String(c.params['caption']));

let h: VipFunnel;
let sql: ReturnType<typeof createSql>;
before(async () => {
  h = await startVipFunnel(7200000001);
  sql = createSql(h.app.db.orm);
});
after(() => h.close());

describe('payment webhook timing (bootstrap, Postgres, Redis, fake Bot API, sandbox gateway)', () => {
  it('early: a paid webhook handled before the charge is recorded grants once, and no QR follows', async () => {
    let seen: { gatewayChargeId: string | null; status: string } | null = null;
    h.sandbox.onCreate(async (charge) => {
      // An instant payer: paid, and the webhook answered, before botflow hears back from the create call.
      await h.sandbox.pay(charge.id);
      await h.sandbox.settled();
      const payment = await h.app.funnel.payments.get(charge.order_id);
      seen = { gatewayChargeId: payment!.gatewayChargeId, status: payment!.status };
    });
    let orderId: string;
    try {
      orderId = await h.checkout(601);
    } finally {
      h.sandbox.onCreate(null);
    }
    await h.settle();
    assert.deepEqual(seen, { gatewayChargeId: null, status: 'paid' }, 'the webhook won the race');
    const charge = h.chargeOf(601);
    assert.ok(h.sandbox.deliveries.some((d) => d.charge_id === charge.id && d.status === 200));
    const payment = await h.app.funnel.payments.get(orderId);
    assert.equal(payment!.status, 'paid');
    assert.equal(payment!.gatewayChargeId, charge.id, 'the late create result is still recorded');
    assert.equal(await h.grants(orderId), 1);
    assert.equal(await h.purchases(orderId), 1);
    assert.equal(h.inviteLinks(orderId), 1);
    assert.equal(h.confirmations(601).length, 1);
    const confirmedAt = h.confirmations(601)[0]!.at;
    const qrAfter = h.sentTo(601, 'sendPhoto').filter((c) => c.at >= confirmedAt && isCharge(c));
    assert.equal(qrAfter.length, 0, 'a paid buyer is not asked to pay again');
  });

  it('late: a paid webhook after reconciliation expired the charge locally is honoured once', async () => {
    const orderId = await h.checkout(602);
    h.offset = 31 * 60_000; // past the 30-minute charge, on botflow's clock only
    try {
      assert.equal((await h.app.runJobs()).reconciled, 1, 'the one charge past its expiry');
    } finally {
      h.offset = 0;
    }
    await h.app.effects.idle();
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'expired');
    assert.equal(await h.grants(orderId), 0);
    // The payer paid at the last second; the gateway confirms after botflow gave up on the charge.
    await h.sandbox.pay(h.chargeOf(602).id);
    await h.settle();
    h.sandbox.notify(h.chargeOf(602).id, 'paid');
    await h.settle();
    const payment = await h.app.funnel.payments.get(orderId);
    assert.equal(payment!.status, 'paid');
    assert.equal(await h.grants(orderId), 1);
    assert.equal(await h.purchases(orderId), 1);
    assert.equal(h.inviteLinks(orderId), 1);
    assert.equal(h.confirmations(602).length, 1);
  });

  it('reordered: stale pending/expired notices delivered after paid leave it paid, granted once', async () => {
    const orderId = await h.checkout(603);
    const id = h.chargeOf(603).id;
    h.sandbox.setDelivery({ delayMs: 100, reorder: true });
    try {
      const expiredNotice = h.sandbox.notify(id, 'expired');
      const pendingNotice = h.sandbox.notify(id, 'pending');
      await h.sandbox.pay(id);
      await h.settle();
      const order = h.sandbox.deliveries.filter((d) => d.charge_id === id).map((d) => d.event_id);
      assert.equal(order.length, 3);
      assert.deepEqual(order.slice(1), [pendingNotice, expiredNotice], 'paid arrived first');
    } finally {
      h.sandbox.setDelivery({ delayMs: 0, reorder: false });
    }
    assert.ok(h.sandbox.deliveries.filter((d) => d.charge_id === id).every((d) => d.status === 200));
    // A reconciliation pass past the charge's expiry does not touch a paid payment either.
    h.offset = 31 * 60_000;
    try {
      await h.app.runJobs();
    } finally {
      h.offset = 0;
    }
    await h.app.effects.idle();
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'paid');
    assert.equal(await h.grants(orderId), 1);
    assert.equal(await h.purchases(orderId), 1);
    assert.equal(h.confirmations(603).length, 1);
    const conversation = await h.app.store.load('tbot', '603');
    assert.equal(JSON.stringify(conversation!.snapshot.value).includes('access'), true);
  });

  it('duplicates: five concurrent copies of the paid webhook make one transition and one grant', async () => {
    const orderId = await h.checkout(604);
    const id = h.chargeOf(604).id;
    h.sandbox.setDelivery({ duplicates: 5, concurrent: true });
    try {
      await h.sandbox.pay(id);
      await h.settle();
    } finally {
      h.sandbox.setDelivery({ duplicates: 1, concurrent: false });
    }
    const copies = h.sandbox.deliveries.filter((d) => d.charge_id === id && d.attempt === 1);
    assert.equal(copies.length, 5);
    assert.equal(new Set(copies.map((d) => d.event_id)).size, 1);
    assert.ok(copies.every((d) => d.status === 200));
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'paid');
    assert.equal(await h.grants(orderId), 1);
    assert.equal(await h.purchases(orderId), 1);
    assert.equal(h.inviteLinks(orderId), 1);
    assert.equal(h.confirmations(604).length, 1);
  });

  it('a paid claim for a charge the gateway expired grants nothing', async () => {
    const orderId = await h.checkout(605);
    const id = h.chargeOf(605).id;
    await h.sandbox.expire(id);
    await h.settle();
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'expired');
    h.sandbox.notify(id, 'paid');
    await h.settle();
    assert.ok(h.sandbox.deliveries.filter((d) => d.charge_id === id).every((d) => d.status === 200));
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'expired');
    assert.equal(await h.grants(orderId), 0);
    assert.equal(await h.purchases(orderId), 0);
    assert.equal(h.inviteLinks(orderId), 0);
    assert.equal(h.confirmations(605).length, 0);
  });

  it('access is granted once per order when grantAccess runs again, and removed when it expires', async () => {
    const orderId = await h.checkout(606);
    await h.sandbox.pay(h.chargeOf(606).id);
    await h.settle();
    const rows = await sql<{
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
    await h.app.funnel.effectHandlers['grantAccess']!(item);
    await h.app.funnel.effectHandlers['grantAccess']!(item);
    assert.equal(await h.grants(orderId), 1);
    assert.equal(h.inviteLinks(orderId), 1);
    const grant = (await h.app.funnel.access.findByLinkName('tbot', linkNameFor(orderId)))!;
    assert.equal(grant.status, 'granted');
    const links = h.confirmations(606).map((c) => String(c.params['text']));
    assert.ok(links.length >= 1 && links.every((t) => t.includes(grant.inviteLink!)), 'always the same link');

    const target = (c: { params: Record<string, unknown> }) =>
      Number(c.params['user_id']) === 606 && Number(c.params['chat_id']) === VIP_CHAT;
    h.offset = 29 * DAY;
    try {
      await h.app.runJobs();
      assert.equal(h.fake.callsOf(h.token, 'banChatMember').filter(target).length, 0, 'not yet due');
      h.offset = 31 * DAY;
      await h.app.runJobs();
      await h.app.runJobs();
    } finally {
      h.offset = 0;
    }
    assert.equal(h.fake.callsOf(h.token, 'banChatMember').filter(target).length, 1);
    const unban = h.fake.callsOf(h.token, 'unbanChatMember').filter(target);
    assert.equal(unban.length, 1);
    assert.equal(unban[0]!.params['only_if_banned'], true);
    const revoked = h.fake.callsOf(h.token, 'revokeChatInviteLink');
    assert.ok(revoked.some((c) => c.params['invite_link'] === grant.inviteLink && c.status === 200));
    assert.equal(
      h.sentTo(606, 'sendMessage').filter((c) => /expirou/.test(String(c.params['text']))).length,
      1,
    );
    assert.equal((await h.app.funnel.access.findByLinkName('tbot', linkNameFor(orderId)))!.status, 'expired');
  });

  it('every BR Code a buyer was shown parses with pix-utils, holds its CRC and matches the order', async () => {
    const photos = h.fake.callsOf(h.token, 'sendPhoto').filter((c) => c.status === 200 && isCharge(c));
    assert.ok(photos.length >= 5, `${photos.length} charges shown`);
    for (const photo of photos) {
      const code = /<code>([^<]+)<\/code>/.exec(String(photo.params['caption']))?.[1];
      assert.ok(code !== undefined);
      // The QR uploaded with it is the pool's rendering of that very code.
      const upload = photo.params['photo'] as { size: number; mimeType?: string };
      assert.equal(upload.size, (await h.app.funnel.qr.render(code, { width: 384, margin: 2 })).length);
      const parsed = parsePix(code);
      assert.ok(!hasError(parsed), code);
      assert.equal(parsed.type, 'STATIC');
      if (parsed.type !== 'STATIC') continue;
      const rows = await sql<{ amount_cents: number; gateway_charge_id: string }>(
        `select amount_cents, gateway_charge_id from payments where br_code = $1`,
        [code],
      );
      assert.equal(rows.length, 1, 'the code shown is the one recorded');
      assert.equal(Math.round(parsed.transactionAmount! * 100), rows[0]!.amount_cents);
      assert.equal(parsed.txid, rows[0]!.gateway_charge_id.replace(/[^A-Za-z0-9]/g, '').slice(0, 25));
    }
  });
});

describe('reconciliation (the webhook is late or lost)', () => {
  it('asks the gateway about a pending charge at most once a minute, and finds a payment on the next ask', async () => {
    const orderId = await h.checkout(620);
    const id = h.chargeOf(620).id;
    const at = async (ms: number) => {
      h.offset = ms;
      try {
        await h.app.runJobs();
      } finally {
        h.offset = 0;
      }
      await h.app.effects.idle();
      return (await h.app.funnel.payments.get(orderId))!.status;
    };
    assert.equal(await at(2 * 60_000), 'pending', 'stale, asked: still pending');
    // The buyer pays; the gateway's webhook is held back, so only a lookup can tell.
    h.sandbox.setDelivery({ delayMs: 1500 });
    try {
      await h.sandbox.pay(id);
      assert.equal(await at(2 * 60_000 + 30_000), 'pending', 'asked 30 s ago: not asked again yet');
      assert.equal(await at(3 * 60_000 + 1_000), 'paid', 'a minute later the lookup finds the payment');
    } finally {
      h.sandbox.setDelivery({});
    }
    await h.settle();
    assert.equal(await h.grants(orderId), 1, 'the late webhook changes nothing more');
    assert.equal(await h.purchases(orderId), 1);
  });
});

describe('reconciliation takes turns', () => {
  it('asks about the least recently asked charges first, so none waits behind the others', async () => {
    const first = await h.checkout(621);
    const second = await h.checkout(622);
    const asked: string[] = [];
    const round = async (ms: number) => {
      h.offset = ms;
      try {
        await h.app.funnel.paymentService.reconcile(1);
      } finally {
        h.offset = 0;
      }
      const rows = await sql<{ order_id: string }>(
        `select order_id from payments where order_id = any($1::text[]) and checked_at is not null
         order by checked_at desc, order_id limit 1`,
        [[first, second]],
      );
      asked.push(rows[0]!.order_id);
    };
    // One charge per round: the second round must take the other one, not the same one again.
    await round(5 * 60_000);
    await round(5 * 60_000 + 1_000);
    assert.deepEqual([...asked].sort(), [first, second].sort());
  });
});
