/**
 * Finds the ad click a buyer came from, gathering the evidence `resolveTracking` weighs: the durable
 * binding (`bot_users`, read through `bindingOf`), then the chat and fbclid indexes and the clicks
 * themselves in the tracking store. A store that cannot answer counts as no evidence: a charge never
 * fails for tracking's sake.
 */
import type { ClickPayload } from '../tracking/click.ts';
import { resolveTracking, type ResolvedTracking } from '../tracking/resolve-tracking.ts';
import type { TrackingStore } from './tracking-store.ts';

/** Why a click is resolved: once per charge (counted), and again at payment. */
export type ResolvePurpose = 'charge' | 'purchase';

/** Creates the resolver; `onCharge` observes the source that won for each charge (a metric). */
export function createBuyerClickResolver(options: {
  bindingOf(
    botId: string,
    userId: string,
  ): Promise<{
    tracking_token: string | null;
    tracking_payload: ClickPayload | null;
    fbclid: string | null;
  } | null>;
  tracking: TrackingStore;
  onCharge?(source: ResolvedTracking['source']): void;
}): (botId: string, userId: string, purpose: ResolvePurpose) => Promise<ResolvedTracking> {
  const { tracking } = options;
  const clickOf = async (token: string | null): Promise<ClickPayload | null> =>
    token === null ? null : tracking.getClick(token).catch(() => null);
  return async (botId, userId, purpose) => {
    const user = await options.bindingOf(botId, userId);
    const chatToken = await tracking.getChatToken(botId, userId).catch(() => null);
    const fbclidToken = user?.fbclid ? await tracking.getTokenByFbclid(user.fbclid).catch(() => null) : null;
    const resolved = resolveTracking({
      userBinding:
        user?.tracking_token == null ? null : { token: user.tracking_token, payload: user.tracking_payload },
      chatIndex: chatToken === null ? null : { token: chatToken, payload: await clickOf(chatToken) },
      fbclidIndex: fbclidToken === null ? null : { token: fbclidToken, payload: await clickOf(fbclidToken) },
      userFields: user?.tracking_payload ?? null,
    });
    if (purpose === 'charge') options.onCharge?.(resolved.source);
    return resolved;
  };
}
