/**
 * Takes paid access back: when it runs out (the periodic job) and when its payment is refunded. A
 * member is removed with ban + unban (out of the chat, free to buy again), the grant's invite link is
 * revoked so it cannot be used again, and the buyer is told. Each step is safe to repeat; the periodic
 * job finishes refunds whose removal failed after the gateway stopped retrying its webhook.
 */
import type { Logger } from 'pino';
import type { AccessGrantRecord, AccessRepository } from '../db/access-repository.ts';
import type { BotApis } from './bot-apis.ts';

/** Access removal for the funnel. */
export interface AccessRemoval {
  /** Removes `userId` from `chatId` (ban + unban); throws coded errors when Telegram refuses. */
  removeMember(botId: string, chatId: string, userId: string): Promise<void>;
  /** Removes members whose paid access ran out, on shards this process owns; returns how many. */
  expireDue(): Promise<number>;
  /** Takes back an order's access (refund); a failure throws so the caller (a webhook) is retried. */
  revoke(orderId: string): Promise<void>;
  /** The job's safety net: takes back access still open on refunded payments; returns how many. */
  revokeRefunded(): Promise<number>;
}

/** Creates the removal functions. */
export function createAccessRemoval(options: {
  apis: BotApis;
  access: AccessRepository;
  owns(botId: string, userId: string): boolean;
  now(): number;
  logger: Logger;
}): AccessRemoval {
  const { apis, access, logger } = options;
  const inFlight = new Map<string, Promise<void>>();

  async function removeMember(botId: string, chatId: string, userId: string): Promise<void> {
    const chat = Number(chatId);
    const user = Number(userId);
    await apis.call(botId, 'banChatMember', { chat_id: chat, user_id: user });
    await apis.call(botId, 'unbanChatMember', { chat_id: chat, user_id: user, only_if_banned: true });
  }

  async function take(grant: AccessGrantRecord): Promise<void> {
    // A static link grant ("link") names no chat botflow could remove anyone from.
    if (!Number.isSafeInteger(Number(grant.chatId))) return;
    await removeMember(grant.botId, grant.chatId, grant.userId);
    if (grant.inviteLink !== null)
      await apis
        .call(grant.botId, 'revokeChatInviteLink', {
          chat_id: Number(grant.chatId),
          invite_link: grant.inviteLink,
        })
        .catch(() => {});
  }

  const tell = (grant: AccessGrantRecord, text: string) =>
    apis.call(grant.botId, 'sendMessage', { chat_id: Number(grant.userId), text }).catch(() => {});

  async function revokeGrant(grant: AccessGrantRecord): Promise<void> {
    // Removal first (idempotent, retried by the webhook or the job if it fails), then the row: when a
    // refund webhook and the operator's refund race, both remove but only one tells the buyer.
    await take(grant);
    if (await access.markRevoked(grant.orderId))
      await tell(grant, 'Seu pagamento foi estornado e o seu acesso ao grupo foi removido.');
  }

  return {
    removeMember,
    async expireDue() {
      let done = 0;
      for (const grant of await access.due(options.now(), 100)) {
        if (!options.owns(grant.botId, grant.userId)) continue;
        try {
          await take(grant);
          await access.markExpired(grant.orderId);
          await tell(grant, 'Seu acesso ao grupo expirou.');
          done += 1;
        } catch (error) {
          logger.warn(
            { order_id: grant.orderId, code: (error as { code?: string }).code },
            'access removal failed',
          );
        }
      }
      return done;
    },
    async revoke(orderId) {
      // One revocation of an order at a time in this process: a second (the gateway's webhook after
      // the operator's refund) waits, then finds the grant already revoked.
      const previous = inFlight.get(orderId) ?? Promise.resolve();
      const current = previous
        .catch(() => {})
        .then(async () => {
          const grant = await access.findByOrder(orderId);
          if (grant !== null && (grant.status === 'granted' || grant.status === 'pending'))
            await revokeGrant(grant);
        });
      inFlight.set(orderId, current);
      try {
        await current;
      } finally {
        if (inFlight.get(orderId) === current) inFlight.delete(orderId);
      }
    },
    async revokeRefunded() {
      let done = 0;
      for (const grant of await access.refundedStillOpen(100)) {
        if (!options.owns(grant.botId, grant.userId)) continue;
        try {
          await revokeGrant(grant);
          done += 1;
        } catch (error) {
          logger.warn(
            { order_id: grant.orderId, code: (error as { code?: string }).code },
            'access revocation failed',
          );
        }
      }
      return done;
    },
  };
}
