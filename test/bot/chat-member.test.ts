import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVipFunnel, VIP_CHAT, type VipFunnel } from '../support/vip-funnel.ts';

let h: VipFunnel;
before(async () => {
  h = await startVipFunnel(7400000001);
});
after(() => h.close());

const person = (id: number) => ({ id, is_bot: false, first_name: 'M' });
/** Pushes a chat_member join through the fake Bot API's webhook; returns the delivery's HTTP status. */
async function join(
  userId: number,
  link?: { invite_link: string; name?: string },
  old = 'left',
  on: VipFunnel = h,
): Promise<number | string> {
  const h = on;
  const updateId = h.fake.pushUpdate(h.token, {
    chat_member: {
      chat: { id: VIP_CHAT, type: 'supergroup', title: 'VIP' },
      from: person(userId),
      date: Math.floor(Date.now() / 1000),
      old_chat_member: { status: old, user: person(userId) },
      new_chat_member: { status: 'member', user: person(userId) },
      ...(link === undefined
        ? {}
        : {
            invite_link: {
              ...link,
              creator: { id: 7400000001, is_bot: true, first_name: 'bot' },
              creates_join_request: h.botId === 'tbot',
              is_primary: false,
              is_revoked: false,
            },
            via_join_request: h.botId === 'tbot',
          }),
    },
  });
  await h.fake.settled();
  await h.app.effects.idle();
  return h.fake.deliveries.findLast((d) => d.update_id === updateId)!.status;
}
const removals = (userId: number, on: VipFunnel = h) =>
  ['banChatMember', 'unbanChatMember'].map(
    (method) =>
      on.fake
        .callsOf(on.token, method)
        .filter(
          (c) =>
            c.status === 200 &&
            Number(c.params['chat_id']) === VIP_CHAT &&
            Number(c.params['user_id']) === userId,
        ).length,
  );
const revocations = (link: string, on: VipFunnel = h) =>
  on.fake.callsOf(on.token, 'revokeChatInviteLink').filter((c) => c.params['invite_link'] === link).length;

/** A buyer who paid; returns their grant's link and its name. */
async function paidBuyer(userId: number, on: VipFunnel = h) {
  const h = on;
  const orderId = await h.checkout(userId);
  await h.sandbox.pay(h.chargeOf(userId).id);
  await h.settle();
  const grant = (await h.app.funnel.access.findByOrder(orderId))!;
  assert.equal(grant.status, 'granted');
  return { orderId, invite_link: grant.inviteLink!, name: grant.linkName! };
}

describe('chat_member updates (real HTTP through the fake Bot API)', () => {
  it('the buyer joining through their link stays in, and the link is revoked (single use)', async () => {
    const { orderId, invite_link, name } = await paidBuyer(801);
    assert.equal(revocations(invite_link), 0);
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.joinedAt, null);
    assert.equal(await join(801, { invite_link, name }), 200);
    assert.equal(revocations(invite_link), 1);
    const joinedAt = (await h.app.funnel.access.findByOrder(orderId))!.joinedAt;
    assert.ok(joinedAt !== null, 'the join is recorded on the grant');
    assert.deepEqual(removals(801), [0, 0]);
    // Matched by name alone too (Telegram hides the full link from other admins): revoked again, harmless.
    assert.equal(await join(801, { invite_link: 'https://t.me/+hidden...', name }), 200);
    assert.deepEqual(removals(801), [0, 0]);
    const link = (await h.app.funnel.access.findByLink('tbot', invite_link))!;
    assert.equal(link.status, 'granted', 'joining does not end the paid access');
    assert.equal(link.joinedAt, joinedAt, 'the first join is kept');
  });

  it("someone joining through another buyer's link is removed (ban + unban); the buyer keeps theirs", async () => {
    const { invite_link, name } = await paidBuyer(802);
    assert.equal(await join(899, { invite_link, name }), 200);
    assert.deepEqual(removals(899), [1, 1]);
    const unban = h.fake
      .callsOf(h.token, 'unbanChatMember')
      .findLast((c) => Number(c.params['user_id']) === 899)!;
    assert.equal(unban.params['only_if_banned'], true);
    assert.equal(revocations(invite_link), 0, "the buyer's link still works for the buyer");
    assert.equal(
      (await h.app.funnel.access.findByLink('tbot', invite_link))!.joinedAt,
      null,
      'not a join by the buyer',
    );
    assert.deepEqual(removals(802), [0, 0]);
  });

  it('the owner of a grant that was refunded is removed when joining through its link', async () => {
    const { orderId, invite_link, name } = await paidBuyer(803);
    await h.sandbox.refund(h.chargeOf(803).id);
    await h.settle();
    assert.equal((await h.app.funnel.access.findByOrder(orderId))!.status, 'revoked');
    const before = removals(803);
    assert.equal(await join(803, { invite_link, name }), 200);
    assert.deepEqual(removals(803), [before[0]! + 1, before[1]! + 1]);
  });

  it('joins without one of our links, and leaves, are left alone', async () => {
    assert.equal(await join(850), 200);
    assert.equal(await join(851, { invite_link: 'https://t.me/+public', name: 'promo' }), 200);
    assert.equal(await join(852, undefined, 'member'), 200);
    for (const user of [850, 851, 852]) assert.deepEqual(removals(user), [0, 0]);
  });

  it('a failed removal is retried from the outbox; the webhook answered 200 once it was committed', async () => {
    const { invite_link, name } = await paidBuyer(804);
    const failed = () => h.fake.deliveries.filter((d) => d.token === h.token && d.status !== 200).length;
    const failedBefore = failed();
    h.fake.injectError({ status: 500, method: 'banChatMember', token: h.token, times: 1 });
    assert.equal(await join(898, { invite_link, name }), 200);
    assert.equal(failed(), failedBefore, 'delivered once: the removal is not the webhook request');
    const bans = h.fake.callsOf(h.token, 'banChatMember').filter((c) => Number(c.params['user_id']) === 898);
    assert.deepEqual(
      bans.map((c) => c.status),
      [500, 200],
    );
    assert.deepEqual(removals(898), [1, 1]);
    assert.equal(
      await h.count(
        `effects where user_id = 898 and effect->>'type' = 'removeMember' and status = 'done'`,
        [],
      ),
      1,
    );
  });
});

/** Pushes a chat_join_request through the fake Bot API's webhook (again, with `updateId`); returns the delivery's status. */
async function requestToJoin(
  userId: number,
  link: { invite_link: string; name?: string },
  updateId?: number,
): Promise<{ status: number | string; updateId: number }> {
  const id = h.fake.pushUpdate(h.token, {
    ...(updateId === undefined ? {} : { update_id: updateId }),
    chat_join_request: {
      chat: { id: VIP_CHAT, type: 'supergroup', title: 'VIP' },
      from: person(userId),
      user_chat_id: userId,
      date: Math.floor(Date.now() / 1000),
      invite_link: {
        ...link,
        creator: { id: 7400000001, is_bot: true, first_name: 'bot' },
        creates_join_request: true,
        is_primary: false,
        is_revoked: false,
      },
    },
  });
  await h.fake.settled();
  await h.app.effects.idle();
  return { status: h.fake.deliveries.findLast((d) => d.update_id === id)!.status, updateId: id };
}
/** The answered join-request calls for `userId`, by method. */
const answers = (userId: number) =>
  ['approveChatJoinRequest', 'declineChatJoinRequest'].map((method) =>
    h.fake
      .callsOf(h.token, method)
      .filter((c) => Number(c.params['chat_id']) === VIP_CHAT && Number(c.params['user_id']) === userId)
      .map((c) => c.status),
  );
const effectStatus = (userId: number, type: string) =>
  h.app.db.orm.em
    .getConnection()
    .execute(`select status, attempts from effects where user_id = ? and effect->>'type' = ? order by id`, [
      userId,
      type,
    ]);

describe('chat_join_request updates (real HTTP through the fake Bot API)', () => {
  it("the buyer's request through their link is approved, anyone else's declined, each once", async () => {
    const { invite_link, name } = await paidBuyer(821);
    const { status, updateId } = await requestToJoin(821, { invite_link, name });
    assert.equal(status, 200);
    assert.deepEqual(answers(821), [[200], []]);
    // Telegram delivering the same update again: committed once, answered once.
    assert.equal((await requestToJoin(821, { invite_link, name }, updateId)).status, 200);
    assert.deepEqual(answers(821), [[200], []]);
    assert.equal((await requestToJoin(822, { invite_link, name })).status, 200);
    assert.deepEqual(answers(822), [[], [200]], "another user's request through the buyer's link");
    assert.equal((await requestToJoin(823, { invite_link: 'https://t.me/+other' })).status, 200);
    assert.deepEqual(answers(823), [[], [200]], 'a request through a link that is no grant of ours');
  });

  it('an approve whose first call failed (500) is retried after the webhook answered 200', async () => {
    const { invite_link, name } = await paidBuyer(824);
    const failedBefore = h.fake.deliveries.filter((d) => d.token === h.token && d.status !== 200).length;
    h.fake.injectError({ status: 500, method: 'approveChatJoinRequest', token: h.token, times: 1 });
    assert.equal((await requestToJoin(824, { invite_link, name })).status, 200);
    const failedAfter = h.fake.deliveries.filter((d) => d.token === h.token && d.status !== 200).length;
    assert.equal(failedAfter, failedBefore, 'delivered once: the approval is not the webhook request');
    assert.deepEqual(answers(824), [[500, 200], []]);
    assert.deepEqual(await effectStatus(824, 'approveJoin'), [{ status: 'done', attempts: 0 }]);
  });

  it('Telegram answering that the request is already handled counts as done, not dead', async () => {
    const { invite_link, name } = await paidBuyer(825);
    h.fake.injectError({
      status: 400,
      description: 'Bad Request: HIDE_REQUESTER_MISSING',
      method: 'approveChatJoinRequest',
      token: h.token,
      times: 1,
    });
    assert.equal((await requestToJoin(825, { invite_link, name })).status, 200);
    assert.deepEqual(answers(825), [[400], []]);
    assert.deepEqual(await effectStatus(825, 'approveJoin'), [{ status: 'done', attempts: 0 }]);
  });
});

describe('a bot whose groups take no join requests (join_requests: false)', () => {
  let single: VipFunnel;
  before(async () => {
    single = await startVipFunnel(7400000002, { botId: 'single', joinRequests: false });
  });
  after(() => single.close());

  it('gets a member_limit: 1 link per order; the buyer joins and it is revoked, anyone else is removed', async () => {
    assert.equal((await single.app.funnel.bots.get('single'))?.joinRequests, false);
    const { orderId, invite_link, name } = await paidBuyer(811, single);
    const created = single.fake
      .callsOf(single.token, 'createChatInviteLink')
      .filter((c) => c.status === 200 && c.params['name'] === name);
    assert.equal(created.length, 1);
    assert.equal(Number(created[0]!.params['member_limit']), 1);
    assert.equal(created[0]!.params['creates_join_request'], undefined);
    const told = single.confirmations(811).map((c) => String(c.params['text']));
    assert.ok(
      told.some((t) => t.includes('só vale para você') && t.includes(invite_link)),
      told.join(' | '),
    );
    // A leaked link: the stranger is removed at once (which frees the one slot), the buyer still gets in.
    assert.equal(await join(898, { invite_link, name }, 'left', single), 200);
    assert.deepEqual(removals(898, single), [1, 1]);
    assert.equal(revocations(invite_link, single), 0);
    assert.equal(await join(811, { invite_link, name }, 'left', single), 200);
    assert.deepEqual(removals(811, single), [0, 0]);
    assert.equal(revocations(invite_link, single), 1);
    assert.notEqual((await single.app.funnel.access.findByOrder(orderId))!.joinedAt, null);
  });
});
