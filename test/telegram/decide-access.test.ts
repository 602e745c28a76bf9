import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideAccess, type GrantFacts } from '../../src/telegram/decide-access.ts';

const CHAT = '-1001234567890';
const LINK = 'https://t.me/+abc';
const grant = (over: Partial<GrantFacts> = {}): GrantFacts => ({
  orderId: 'o1',
  userId: '7',
  chatId: CHAT,
  inviteLink: LINK,
  status: 'granted',
  ...over,
});

describe('decideAccess: join requests', () => {
  it("approves the grant's own buyer for the grant's chat", () => {
    assert.deepEqual(decideAccess({ kind: 'join_request', userId: '7', chatId: CHAT, grant: grant() }), {
      effects: [{ type: 'approveJoin', chat_id: CHAT }],
      joinedOrder: null,
    });
  });

  it('declines anyone else: another user, another chat, a grant not (or no longer) granted, no grant', () => {
    const declined = [
      { userId: '8', chatId: CHAT, grant: grant() },
      { userId: '7', chatId: '-1009', grant: grant() },
      { userId: '7', chatId: CHAT, grant: grant({ status: 'pending' }) },
      { userId: '7', chatId: CHAT, grant: grant({ status: 'revoked' }) },
      { userId: '7', chatId: CHAT, grant: grant({ status: 'expired' }) },
      { userId: '7', chatId: CHAT, grant: null },
    ];
    for (const request of declined)
      assert.deepEqual(
        decideAccess({ kind: 'join_request', ...request })?.effects,
        [{ type: 'declineJoin', chat_id: request.chatId }],
        JSON.stringify(request),
      );
  });
});

describe('decideAccess: joins', () => {
  it('the buyer joining stays; their link is revoked and the join recorded on the order', () => {
    assert.deepEqual(decideAccess({ kind: 'member_joined', userId: '7', chatId: CHAT, grant: grant() }), {
      effects: [{ type: 'revokeInvite', chat_id: CHAT, invite_link: LINK }],
      joinedOrder: 'o1',
    });
    assert.deepEqual(
      decideAccess({ kind: 'member_joined', userId: '7', chatId: CHAT, grant: grant({ inviteLink: null }) }),
      { effects: [], joinedOrder: 'o1' },
      'a grant without a recorded link: nothing to revoke',
    );
  });

  it("anyone else joining through a grant's link is removed, and so is its buyer once the grant ended", () => {
    for (const [userId, over] of [
      ['8', {}],
      ['7', { status: 'revoked' }],
      ['7', { status: 'expired' }],
    ] as const)
      assert.deepEqual(decideAccess({ kind: 'member_joined', userId, chatId: CHAT, grant: grant(over) }), {
        effects: [{ type: 'removeMember', chat_id: CHAT }],
        joinedOrder: null,
      });
  });

  it('a join without one of our links, or through a link of another chat, is not ours to judge', () => {
    assert.equal(decideAccess({ kind: 'member_joined', userId: '7', chatId: CHAT, grant: null }), null);
    assert.equal(decideAccess({ kind: 'member_joined', userId: '7', chatId: '-1009', grant: grant() }), null);
  });
});

describe('decideAccess: access that ends', () => {
  it('removes the buyer, revokes the link, then tells them why', () => {
    for (const reason of ['expired', 'refunded'] as const)
      assert.deepEqual(decideAccess({ kind: 'ended', reason, grant: grant() })?.effects, [
        { type: 'removeMember', chat_id: CHAT },
        { type: 'revokeInvite', chat_id: CHAT, invite_link: LINK },
        { type: 'accessEnded', reason },
      ]);
  });

  it('a static link grant has no chat to remove anyone from: only the buyer is told', () => {
    assert.deepEqual(
      decideAccess({ kind: 'ended', reason: 'expired', grant: grant({ chatId: 'link', inviteLink: LINK }) })
        ?.effects,
      [{ type: 'accessEnded', reason: 'expired' }],
    );
  });
});
