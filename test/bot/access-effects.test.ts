import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccessEffects } from '../../src/bot/access-effects.ts';
import type { BotApis } from '../../src/bot/bot-apis.ts';
import { BotflowError } from '../../src/errors.ts';
import type { Effect } from '../../src/flow/types.ts';

const CHAT = '-1001234567890';

/** A Bot API stand-in that records calls and refuses the ones `refuse` names (as bot-apis would). */
function recordingApis(
  refuse: Record<string, { code: 'UPSTREAM_REJECTED' | 'UPSTREAM_FAILED'; text: string }> = {},
) {
  const calls: Array<[string, Record<string, unknown>]> = [];
  const apis = {
    call: async (_botId: string, method: string, params: Record<string, unknown>) => {
      calls.push([method, params]);
      const refusal = refuse[method];
      if (refusal !== undefined)
        throw new BotflowError(refusal.code, `Telegram ${method}: 400 Bad Request: ${refusal.text}`);
      return true;
    },
  } as unknown as Pick<BotApis, 'call'>;
  return { apis, calls };
}

const item = (effect: Effect) => ({ key: 'k', botId: 'b', userId: '7', flowVersion: 1, effect });

describe('access effects', () => {
  it('answer join requests, revoke links and remove members of the conversation user', async () => {
    const { apis, calls } = recordingApis();
    const run = createAccessEffects(apis);
    assert.equal(await run.approveJoin(item({ type: 'approveJoin', chat_id: CHAT })), null);
    await run.declineJoin(item({ type: 'declineJoin', chat_id: CHAT }));
    await run.revokeInvite(item({ type: 'revokeInvite', chat_id: CHAT, invite_link: 'https://t.me/+x' }));
    await run.removeMember(item({ type: 'removeMember', chat_id: CHAT }));
    const user = { chat_id: Number(CHAT), user_id: 7 };
    assert.deepEqual(calls, [
      ['approveChatJoinRequest', user],
      ['declineChatJoinRequest', user],
      ['revokeChatInviteLink', { chat_id: Number(CHAT), invite_link: 'https://t.me/+x' }],
      ['banChatMember', user],
      ['unbanChatMember', { ...user, only_if_banned: true }],
    ]);
  });

  it("Telegram's 'already so' refusals count as done, so a re-run after a crash is harmless", async () => {
    for (const [method, text, effect] of [
      ['approveChatJoinRequest', 'HIDE_REQUESTER_MISSING', { type: 'approveJoin', chat_id: CHAT }],
      ['approveChatJoinRequest', 'USER_ALREADY_PARTICIPANT', { type: 'approveJoin', chat_id: CHAT }],
      ['declineChatJoinRequest', 'HIDE_REQUESTER_MISSING', { type: 'declineJoin', chat_id: CHAT }],
      [
        'revokeChatInviteLink',
        'INVITE_HASH_EXPIRED',
        { type: 'revokeInvite', chat_id: CHAT, invite_link: 'https://t.me/+x' },
      ],
    ] as const) {
      const { apis } = recordingApis({ [method]: { code: 'UPSTREAM_REJECTED', text } });
      const handler = createAccessEffects(apis)[effect.type];
      assert.equal(await handler(item(effect)), null, `${method}: ${text}`);
    }
  });

  it('other refusals and transient failures go to the runner (dead or retried)', async () => {
    const rejected = recordingApis({
      approveChatJoinRequest: { code: 'UPSTREAM_REJECTED', text: 'CHAT_ADMIN_REQUIRED' },
    });
    await assert.rejects(
      createAccessEffects(rejected.apis).approveJoin(item({ type: 'approveJoin', chat_id: CHAT })),
      (e: unknown) => e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED',
    );
    const failing = recordingApis({
      declineChatJoinRequest: { code: 'UPSTREAM_FAILED', text: 'HIDE_REQUESTER_MISSING' },
    });
    await assert.rejects(
      createAccessEffects(failing.apis).declineJoin(item({ type: 'declineJoin', chat_id: CHAT })),
      (e: unknown) => e instanceof BotflowError && e.code === 'UPSTREAM_FAILED',
    );
    const ban = recordingApis({ banChatMember: { code: 'UPSTREAM_REJECTED', text: 'USER_ADMIN_INVALID' } });
    await assert.rejects(
      createAccessEffects(ban.apis).removeMember(item({ type: 'removeMember', chat_id: CHAT })),
    );
    assert.deepEqual(
      ban.calls.map(([m]) => m),
      ['banChatMember'],
      'no unban when the ban failed',
    );
  });
});
