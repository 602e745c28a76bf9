/**
 * Executes the access effects `decideAccess` commits (answer a join request, revoke an invite link,
 * remove a member) through the Bot API, for the effect runner. Each is harmless to run again after a
 * crash: Telegram's refusals that say it is already so (the request already answered, the user already
 * in, the link already revoked or expired) count as done; any other refusal goes to the runner (dead),
 * a transient failure is retried.
 */
import { BotflowError } from '../errors.ts';
import type { EffectHandler } from '../runtime/effect-runner.ts';
import type { BotApis } from './bot-apis.ts';

/** Telegram's refusals meaning "already done", by effect type. */
const ALREADY_DONE = {
  approveJoin: /HIDE_REQUESTER_MISSING|USER_ALREADY_PARTICIPANT/,
  declineJoin: /HIDE_REQUESTER_MISSING/,
  revokeInvite: /INVITE_HASH_EXPIRED|INVITE_HASH_INVALID|INVITE_REVOKED/,
} as const;

/** Runs `call`; a refusal matching `already` counts as done. */
async function idempotent(already: RegExp, call: () => Promise<unknown>): Promise<null> {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof BotflowError && error.code === 'UPSTREAM_REJECTED' && already.test(error.message)))
      throw error;
  }
  return null;
}

/** Creates the handlers, by effect type. */
export function createAccessEffects(
  apis: Pick<BotApis, 'call'>,
): Record<'approveJoin' | 'declineJoin' | 'revokeInvite' | 'removeMember', EffectHandler> {
  /** The chat and user of an access effect (the user is always its conversation's). */
  const target = (item: Parameters<EffectHandler>[0]) => ({
    chat_id: Number((item.effect as { chat_id: string }).chat_id),
    user_id: Number(item.userId),
  });
  return {
    approveJoin: (item) =>
      idempotent(ALREADY_DONE.approveJoin, () =>
        apis.call(item.botId, 'approveChatJoinRequest', target(item)),
      ),
    declineJoin: (item) =>
      idempotent(ALREADY_DONE.declineJoin, () =>
        apis.call(item.botId, 'declineChatJoinRequest', target(item)),
      ),
    revokeInvite: async (item) => {
      if (item.effect.type !== 'revokeInvite') return null;
      const { invite_link } = item.effect;
      const { chat_id } = target(item);
      return idempotent(ALREADY_DONE.revokeInvite, () =>
        apis.call(item.botId, 'revokeChatInviteLink', { chat_id, invite_link }),
      );
    },
    // Ban + unban: out of the chat, free to buy again. Both are harmless to repeat.
    removeMember: async (item) => {
      await apis.call(item.botId, 'banChatMember', target(item));
      await apis.call(item.botId, 'unbanChatMember', { ...target(item), only_if_banned: true });
      return null;
    },
  };
}
