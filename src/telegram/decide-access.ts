/**
 * Decides what paid access does to a chat (pure), as effects for the conversation of the user it
 * concerns, so the webhook and the jobs only look the grant up and commit the answer: a join request
 * is approved only for the buyer its invite link was issued to; a member who joins through a grant's
 * link stays only as that grant's paid buyer (whose link is then revoked: single use), anyone else is
 * removed; access that ends (run out, refunded) removes the buyer, revokes the link and tells them.
 */
import type { Effect } from '../flow/types.ts';

/** What the decisions read of an access grant (the grant row has these fields). */
export interface GrantFacts {
  orderId: string;
  userId: string;
  /** The chat's id, or `link` for a static link grant (no chat botflow manages). */
  chatId: string;
  inviteLink: string | null;
  status: 'pending' | 'granted' | 'revoked' | 'expired';
}

/** What happened: a user asked to join or joined a chat (through a grant's link, when `grant` is set), or access ended. */
export type AccessHappening =
  | { kind: 'join_request'; userId: string; chatId: string; grant: GrantFacts | null }
  | { kind: 'member_joined'; userId: string; chatId: string; grant: GrantFacts | null }
  | { kind: 'ended'; reason: 'expired' | 'refunded'; grant: GrantFacts };

/** The decision: effects for the user's conversation, and the order whose buyer joined (to record), if any. */
export interface AccessDecision {
  effects: Effect[];
  joinedOrder: string | null;
}

/** Whether a grant is this user's paid access to this chat. */
function grants(grant: GrantFacts | null, userId: string, chatId: string): grant is GrantFacts {
  return grant !== null && grant.userId === userId && grant.chatId === chatId && grant.status === 'granted';
}

/** The effects that take a grant's chat access back: removal, then its link revoked (none for a static link). */
function takeBack(grant: GrantFacts): Effect[] {
  if (!Number.isSafeInteger(Number(grant.chatId))) return [];
  const remove: Effect = { type: 'removeMember', chat_id: grant.chatId };
  if (grant.inviteLink === null) return [remove];
  return [remove, { type: 'revokeInvite', chat_id: grant.chatId, invite_link: grant.inviteLink }];
}

/**
 * Decides one happening; null when it is not botflow's to judge (a join without one of its links, or
 * through a link of another chat).
 */
export function decideAccess(happening: AccessHappening): AccessDecision | null {
  const none = { effects: [], joinedOrder: null };
  switch (happening.kind) {
    case 'join_request': {
      const { userId, chatId, grant } = happening;
      const type = grants(grant, userId, chatId) ? 'approveJoin' : 'declineJoin';
      return { ...none, effects: [{ type, chat_id: chatId }] };
    }
    case 'member_joined': {
      const { userId, chatId, grant } = happening;
      if (grant === null || grant.chatId !== chatId) return null;
      if (!grants(grant, userId, chatId))
        return { ...none, effects: [{ type: 'removeMember', chat_id: chatId }] };
      const revoke: Effect[] =
        grant.inviteLink === null
          ? []
          : [{ type: 'revokeInvite', chat_id: chatId, invite_link: grant.inviteLink }];
      return { effects: revoke, joinedOrder: grant.orderId };
    }
    case 'ended':
      return {
        ...none,
        effects: [...takeBack(happening.grant), { type: 'accessEnded', reason: happening.reason }],
      };
  }
}
