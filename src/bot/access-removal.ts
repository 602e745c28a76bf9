/**
 * Takes paid access back: when it runs out (the periodic job) and when its payment is refunded. What
 * that does (remove the member with ban + unban, revoke the grant's link, tell the buyer) is decided
 * by `decideAccess` and committed as effects of the buyer's conversation under one key per order, so
 * a refund webhook, the operator's refund and the job racing commit it once; the effect runner executes
 * it (retried, in the chat's order). The grant is marked after the commit: the periodic job finishes
 * what a failure in between left open, committing nothing twice.
 */
import type { Logger } from 'pino';
import type { AccessGrantRecord, AccessRepository } from '../db/access-repository.ts';
import type { Dispatch } from '../runtime/conversation-host.ts';
import { inputKeys } from '../runtime/input-keys.ts';
import { decideAccess } from '../telegram/decide-access.ts';

/** Access removal for the funnel. */
export interface AccessRemoval {
  /** Ends access that ran out, on shards this process owns; returns how many. */
  expireDue(): Promise<number>;
  /** Takes back an order's access (refund); a failed commit throws so the caller (a webhook) is retried. */
  revoke(orderId: string): Promise<void>;
  /** The job's safety net: takes back access still open on refunded payments; returns how many. */
  revokeRefunded(): Promise<number>;
}

/** Creates the removal functions. */
export function createAccessRemoval(options: {
  access: AccessRepository;
  /** Commits input for a conversation (routed to its shard's owner). */
  dispatch(input: Dispatch): Promise<unknown>;
  owns(botId: string, userId: string): boolean;
  now(): number;
  logger: Logger;
}): AccessRemoval {
  const { access, logger } = options;

  /** Commits the end of a grant's access as effects of its buyer's conversation (once per order). */
  async function end(grant: AccessGrantRecord, reason: 'expired' | 'refunded'): Promise<void> {
    const decision = decideAccess({ kind: 'ended', reason, grant });
    await options.dispatch({
      botId: grant.botId,
      userId: grant.userId,
      inputKey: inputKeys.accessEnded(grant.orderId),
      effects: decision?.effects ?? [],
    });
  }

  async function revokeGrant(grant: AccessGrantRecord): Promise<void> {
    await end(grant, 'refunded');
    await access.markRevoked(grant.orderId);
  }

  /** Runs `take` on each grant this process owns; returns how many succeeded (failures are logged). */
  async function each(
    grants: AccessGrantRecord[],
    take: (grant: AccessGrantRecord) => Promise<void>,
    failed: string,
  ): Promise<number> {
    let done = 0;
    for (const grant of grants) {
      if (!options.owns(grant.botId, grant.userId)) continue;
      try {
        await take(grant);
        done += 1;
      } catch (error) {
        logger.warn({ order_id: grant.orderId, code: (error as { code?: string }).code }, failed);
      }
    }
    return done;
  }

  return {
    async expireDue() {
      return each(
        await access.due(options.now(), 100),
        async (grant) => {
          await end(grant, 'expired');
          await access.markExpired(grant.orderId);
        },
        'access removal failed',
      );
    },
    async revoke(orderId) {
      const grant = await access.findByOrder(orderId);
      if (grant !== null && (grant.status === 'granted' || grant.status === 'pending'))
        await revokeGrant(grant);
    },
    async revokeRefunded() {
      return each(await access.refundedStillOpen(100), revokeGrant, 'access revocation failed');
    },
  };
}
