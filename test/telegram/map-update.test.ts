import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { mapUpdate } from '../../src/telegram/map-update.ts';

const user = (id: number) => ({ id, is_bot: false, first_name: 'T' });
const link = { invite_link: 'https://t.me/+abc', name: 'bf-xyz', creates_join_request: true };
const memberUpdate = (old: Record<string, unknown>, now: Record<string, unknown>, extra = {}) => ({
  update_id: 9,
  chat_member: {
    chat: { id: -1001, type: 'supergroup' },
    from: user(42),
    date: 1,
    old_chat_member: { user: user(42), ...old },
    new_chat_member: { user: user(42), ...now },
    ...extra,
  },
});

describe('mapUpdate', () => {
  it('maps a join through an invite link to member_joined with the link and its name', () => {
    const { updateId, mapped } = mapUpdate(
      memberUpdate({ status: 'left' }, { status: 'member' }, { invite_link: link, via_join_request: true }),
    );
    assert.equal(updateId, 9);
    assert.deepEqual(mapped, {
      kind: 'member_joined',
      userId: '42',
      chatId: '-1001',
      inviteLink: 'https://t.me/+abc',
      inviteLinkName: 'bf-xyz',
    });
  });

  it('a join without a link, or by a formerly kicked user restricted in the chat, is still a join', () => {
    assert.deepEqual(mapUpdate(memberUpdate({ status: 'left' }, { status: 'member' })).mapped, {
      kind: 'member_joined',
      userId: '42',
      chatId: '-1001',
    });
    const restricted = memberUpdate({ status: 'kicked' }, { status: 'restricted', is_member: true });
    assert.equal(mapUpdate(restricted).mapped.kind, 'member_joined');
  });

  it('ignores leaving, promotions and restrictions of someone already in, and malformed updates', () => {
    const cases = [
      memberUpdate({ status: 'member' }, { status: 'left' }),
      memberUpdate({ status: 'member' }, { status: 'kicked' }),
      memberUpdate({ status: 'member' }, { status: 'administrator' }),
      memberUpdate({ status: 'member' }, { status: 'restricted', is_member: true }),
      memberUpdate({ status: 'left' }, { status: 'restricted', is_member: false }),
      { update_id: 9, chat_member: { chat: { id: -1001 }, new_chat_member: { status: 'member' } } },
      { update_id: 9, chat_member: { chat: {}, new_chat_member: { status: 'member', user: user(1) } } },
    ];
    for (const update of cases)
      assert.equal(mapUpdate(update).mapped.kind, 'ignored', JSON.stringify(update));
  });

  it('keeps mapping join requests with their link', () => {
    const { mapped } = mapUpdate({
      update_id: 3,
      chat_join_request: { chat: { id: -1001 }, from: user(7), date: 1, invite_link: link },
    });
    assert.deepEqual(mapped, {
      kind: 'join_request',
      userId: '7',
      chatId: '-1001',
      inviteLink: 'https://t.me/+abc',
      inviteLinkName: 'bf-xyz',
    });
  });

  it('refuses a body without update_id with BAD_REQUEST', () => {
    assert.throws(
      () => mapUpdate({ chat_member: {} }),
      (e: unknown) => e instanceof BotflowError && e.code === 'BAD_REQUEST',
    );
  });
});
