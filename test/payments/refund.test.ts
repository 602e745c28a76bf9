import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { linkNameFor } from '../../src/bot/telegram-effects.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { createSql } from '../../src/db/sql-client.ts';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { ADMIN_TOKEN, startVipFunnel, VIP_CHAT, type VipFunnel } from '../support/vip-funnel.ts';

let h: VipFunnel;
before(async () => {
  h = await startVipFunnel(7300000001);
});
after(() => h.close());

const removals = (method: 'banChatMember' | 'unbanChatMember', userId: number) =>
  h.fake
    .callsOf(h.token, method)
    .filter(
      (c) =>
        c.status === 200 &&
        Number(c.params['user_id']) === userId &&
        Number(c.params['chat_id']) === VIP_CHAT,
    ).length;
const refundNotices = (userId: number) =>
  h.sentTo(userId, 'sendMessage').filter((c) => /estornado/.test(String(c.params['text']))).length;

/** A buyer who paid and was granted access; returns the order id. */
async function paidBuyer(userId: number): Promise<string> {
  const orderId = await h.checkout(userId);
  await h.sandbox.pay(h.chargeOf(userId).id);
  await h.settle();
  assert.equal((await h.app.funnel.access.findByOrder(orderId))?.status, 'granted');
  return orderId;
}

describe('refunds (sandbox gateway, webhook, Telegram)', () => {
  it('a refund webhook marks the payment refunded and takes the access back once', async () => {
    const orderId = await paidBuyer(701);
    const link = (await h.app.funnel.access.findByOrder(orderId))!.inviteLink!;
    await h.sandbox.refund(h.chargeOf(701).id);
    await h.settle();
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'refunded');
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.status, 'revoked');
    assert.equal(removals('banChatMember', 701), 1);
    assert.equal(removals('unbanChatMember', 701), 1);
    const revoked = h.fake.callsOf(h.token, 'revokeChatInviteLink').filter((c) => c.status === 200);
    assert.ok(revoked.some((c) => c.params['invite_link'] === link));
    assert.equal(refundNotices(701), 1);
    // The same news again, and the expiry job later, change nothing more.
    h.sandbox.notify(h.chargeOf(701).id, 'refunded');
    await h.settle();
    await h.runJobsAt(31 * 86_400_000);
    assert.equal(removals('banChatMember', 701), 1);
    assert.equal(refundNotices(701), 1);
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'refunded');
  });

  it('a partial refund keeps the order paid and its access', async () => {
    const orderId = await paidBuyer(702);
    await h.sandbox.refund(h.chargeOf(702).id, 1000);
    await h.settle();
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'paid');
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.status, 'granted');
    assert.equal(removals('banChatMember', 702), 0);
    assert.equal(await h.grants(orderId), 1);
  });

  it('a removal that fails at first (500) is retried from the outbox; the refund webhook answered 200 once committed', async () => {
    const orderId = await paidBuyer(703);
    const id = h.chargeOf(703).id;
    h.fake.injectError({ status: 500, method: 'banChatMember', token: h.token, times: 1 });
    await h.sandbox.refund(id);
    await h.settle();
    const answers = h.sandbox.deliveries.filter((d) => d.charge_id === id).map((d) => d.status);
    assert.deepEqual(answers, [200, 200], 'paid, refunded: each delivered once');
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.status, 'revoked');
    const bans = h.fake.callsOf(h.token, 'banChatMember').filter((c) => Number(c.params['user_id']) === 703);
    assert.deepEqual(
      bans.map((c) => c.status),
      [500, 200],
    );
    assert.equal(removals('unbanChatMember', 703), 1);
    assert.equal(refundNotices(703), 1);
    const committed = await createSql(h.app.db.orm)<{ type: string; status: string }>(
      `select effect->>'type' as type, status from effects where user_id = 703 and idempotency_key like 'tbot:703:%'
         and effect->>'type' in ('removeMember', 'revokeInvite', 'accessEnded') order by id`,
    );
    assert.deepEqual(
      committed.map((r) => `${r.type} ${r.status}`),
      ['removeMember done', 'revokeInvite done', 'accessEnded done'],
      'taken back through the outbox, in order',
    );
  });

  it('a refunded payment whose access is still open (taking it back never committed) is finished by the periodic job, once', async () => {
    const orderId = await paidBuyer(705);
    // As if the refund was recorded but the process died before it committed taking the access back.
    await createSql(h.app.db.orm)(`update payments set status = 'refunded' where order_id = $1`, [orderId]);
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.status, 'granted');
    assert.equal((await h.app.runJobs()).accessRevoked, 1);
    await h.settle();
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.status, 'revoked');
    assert.equal(removals('banChatMember', 705), 1);
    assert.equal(refundNotices(705), 1);
    assert.equal((await h.app.runJobs()).accessRevoked, 0);
    await h.settle();
    assert.equal(removals('banChatMember', 705), 1);
  });

  it('a grantAccess effect that runs again after the refund hands nothing over', async () => {
    const orderId = await paidBuyer(704);
    await h.sandbox.refund(h.chargeOf(704).id);
    await h.settle();
    const rows = await createSql(h.app.db.orm)<{
      idempotency_key: string;
      effect: KeyedEffect['effect'];
      flow_version: number;
    }>(
      `select idempotency_key, effect, flow_version from effects
       where bot_id = 'tbot' and user_id = 704 and effect->>'type' = 'grantAccess'`,
    );
    const before = h.confirmations(704).length;
    await h.app.funnel.effectHandlers['grantAccess']!({
      key: rows[0]!.idempotency_key,
      botId: 'tbot',
      userId: '704',
      flowVersion: rows[0]!.flow_version,
      effect: rows[0]!.effect,
    });
    assert.equal(h.confirmations(704).length, before);
    assert.equal(h.inviteLinks(orderId), 1);
    assert.equal((await h.app.funnel.access.findByLinkName('tbot', linkNameFor(orderId)))!.status, 'revoked');
  });
});

describe('refunds started by the operator (POST /admin/payments/:orderId/refund)', () => {
  const refund = (orderId: string, body: unknown = {}) =>
    fetch(`${h.app.url}/admin/payments/${encodeURIComponent(orderId)}/refund`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
  const cli = async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      isTTY: false,
      env: { BOTFLOW_URL: h.app.url, BOTFLOW_ADMIN_TOKEN: ADMIN_TOKEN },
      readFile: () => Promise.reject(new Error('no files here')),
      writeFile: () => Promise.reject(new Error('no files here')),
    });
    return { code, stdout, stderr };
  };

  it('a full refund at the gateway marks the payment refunded and takes the access back', async () => {
    const orderId = await paidBuyer(711);
    const res = await refund(orderId);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'refunded' });
    await h.settle();
    assert.equal(h.chargeOf(711).status, 'refunded', 'the gateway refunded the charge');
    assert.equal((await h.app.funnel.payments.get(orderId))?.status, 'refunded');
    assert.equal((await h.app.funnel.access.findByOrder(orderId))?.status, 'revoked');
    assert.equal(removals('banChatMember', 711), 1);
    assert.equal(removals('unbanChatMember', 711), 1);
    assert.equal(refundNotices(711), 1, 'the buyer is told once (the webhook that follows changes nothing)');
    const again = await refund(orderId);
    assert.equal(again.status, 409);
    assert.equal(await codeOf(again), 'CONFLICT');
  });

  it('a partial refund keeps the order paid and the access in place', async () => {
    const orderId = await paidBuyer(712);
    const res = await refund(orderId, { amount_cents: 100 });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'paid' });
    await h.settle();
    assert.equal(h.chargeOf(712).refunded_cents, 100);
    assert.equal((await h.app.funnel.payments.get(orderId))?.status, 'paid');
    assert.equal((await h.app.funnel.access.findByOrder(orderId))?.status, 'granted');
    assert.equal(removals('banChatMember', 712), 0);
  });

  it('refuses an unknown order, an unpaid one, a bad amount and a missing token, with coded errors', async () => {
    const unknown = await refund('no-such-order');
    assert.equal(unknown.status, 404);
    assert.equal(await codeOf(unknown), 'NOT_FOUND');
    const pending = await h.checkout(713);
    const unpaid = await refund(pending);
    assert.equal(unpaid.status, 409);
    const paid = await paidBuyer(714);
    for (const body of [
      { amount_cents: 0 },
      { amount_cents: 1.5 },
      { amount_cents: 10_000_000 },
      { other: 1 },
    ]) {
      const bad = await refund(paid, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(await codeOf(bad), 'BAD_REQUEST');
    }
    const anonymous = await fetch(`${h.app.url}/admin/payments/${encodeURIComponent(paid)}/refund`, {
      method: 'POST',
      body: '{}',
    });
    assert.equal(anonymous.status, 401);
    assert.equal((await h.app.funnel.payments.get(paid))?.status, 'paid', 'nothing was refunded');
  });

  it('botflow payments refund does the same from the command line, in part or in full', async () => {
    const orderId = await paidBuyer(715);
    const bad = await cli('payments', 'refund', orderId, '--amount-cents', '1.5');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--amount-cents must be a whole number/);
    const part = await cli('payments', 'refund', orderId, '--amount-cents', '100', '--json');
    assert.equal(part.code, 0, part.stderr);
    assert.deepEqual(JSON.parse(part.stdout), { order_id: orderId, status: 'paid' });
    const full = await cli('payments', 'refund', orderId);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /the payment is refunded and the access removed/);
    await h.settle();
    assert.equal((await h.app.funnel.access.findByOrder(orderId))?.status, 'revoked');
    assert.equal(removals('banChatMember', 715), 1);
    const again = await cli('payments', 'refund', orderId);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /CONFLICT/);
    const missing = await cli('payments', 'refund');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /needs an order id/);
  });

  it("lists a bot's payments with their access, newest first (API and CLI), and refuses a bad query", async () => {
    const paid = await paidBuyer(716);
    const pending = await h.checkout(717);
    const list = async (query: string) =>
      fetch(`${h.app.url}/admin/payments?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const mine = (await (await list('bot_id=tbot&user_id=716')).json()) as {
      payments: Array<Record<string, unknown>>;
    };
    assert.equal(mine.payments.length, 1);
    assert.equal(mine.payments[0]!['order_id'], paid);
    assert.equal(mine.payments[0]!['status'], 'paid');
    assert.equal(mine.payments[0]!['access'], 'granted');
    assert.equal(mine.payments[0]!['amount_cents'], (await h.app.funnel.payments.get(paid))!.amountCents);
    const open = (await (await list('bot_id=tbot&status=pending')).json()) as {
      payments: Array<Record<string, unknown>>;
    };
    assert.ok(open.payments.some((p) => p['order_id'] === pending));
    assert.ok(open.payments.every((p) => p['status'] === 'pending'));
    const all = (await (await list('bot_id=tbot&limit=500')).json()) as {
      payments: Array<{ order_id: string }>;
    };
    assert.ok(
      all.payments.findIndex((p) => p.order_id === pending) <
        all.payments.findIndex((p) => p.order_id === paid),
      'newest first',
    );
    for (const bad of [
      '',
      'bot_id=tbot&user_id=abc',
      'bot_id=tbot&status=lost',
      'bot_id=tbot&limit=0',
      'bot_id=tbot&x=1',
    ]) {
      const res = await list(bad);
      assert.equal(res.status, 400, bad);
      assert.equal(await codeOf(res), 'BAD_REQUEST');
    }
    const table = await cli('payments', 'list', '--bot', 'tbot', '--user', '716');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ORDER\s+USER\s+STATUS\s+AMOUNT\s+ACCESS/);
    assert.match(table.stdout, new RegExp(`716\\s+paid\\s+R\\$ \\d+,\\d{2}\\s+granted`));
    const json = await cli('payments', 'list', '--bot', 'tbot', '--status', 'pending', '--json');
    assert.ok((JSON.parse(json.stdout) as Array<{ order_id: string }>).some((p) => p.order_id === pending));
    assert.equal((await cli('payments', 'list')).code, 2, 'no --bot');
  });
});
