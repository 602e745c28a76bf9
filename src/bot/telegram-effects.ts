/**
 * Executes the conversation effects that talk to the buyer through Telegram: messages, notices, the
 * PIX charge (its QR image the gateway's, or rendered inline), and paid access (an invite link per order, named so
 * the join request or join maps back to the order, recorded before it is sent: a join-request link,
 * or a `member_limit: 1` link for a bot whose groups take no join requests). Each handler is idempotent
 * per effect key or order, as the effect runner retries them.
 */
import { createHash } from 'node:crypto';
import type { AccessRepository } from '../db/access-repository.ts';
import type { PaymentRepository } from '../db/payment-repository.ts';
import type { QrRenderer } from '../payments/qr-images.ts';
import type { EffectHandler } from '../runtime/effect-runner.ts';
import type { BotApis } from './bot-apis.ts';
import { renderAccessGranted, renderEffect } from '../telegram/render-effect.ts';

export interface TelegramEffectsOptions {
  apis: BotApis;
  payments: PaymentRepository;
  access: AccessRepository;
  /** The charge's QR image (the gateway's, or rendered inline). */
  qr: QrRenderer;
  now(): number;
  /** Whether the bot's invite links ask to join (default true); false: `member_limit: 1` links. */
  joinRequestsOf?(botId: string): Promise<boolean>;
  /** How long an invite link stays usable (default one day). */
  inviteTtlMs?: number;
}

/** The invite link name of an order: short (Telegram allows 32 characters) and stable. */
export function linkNameFor(orderId: string): string {
  return `bf-${createHash('sha256').update(orderId).digest('base64url').slice(0, 22)}`;
}

/** Creates the handlers, by effect type. */
export function createTelegramEffects(
  options: TelegramEffectsOptions,
): Record<'send' | 'sendCharge' | 'notice' | 'error' | 'accessEnded' | 'grantAccess', EffectHandler> {
  const { apis } = options;

  const sendRendered: EffectHandler = async (item) => {
    const calls = renderEffect(item.effect, {
      chatId: Number(item.userId),
      flowVersion: item.flowVersion,
    });
    for (const call of calls) {
      const files: Record<string, { data: Uint8Array; filename: string }> = {};
      for (const [field, spec] of Object.entries(call.files ?? {}))
        files[field] = {
          data: await options.qr.render(spec.qr, { width: 384, margin: 2 }),
          filename: 'pix.png',
        };
      await apis.send(item.botId, call, files);
    }
    return null;
  };

  const grantAccess: EffectHandler = async (item) => {
    const effect = item.effect;
    if (effect.type !== 'grantAccess') return null;
    const chatId = Number(item.userId);
    const paid =
      effect.order === null
        ? null
        : await options.payments.findByFlowOrder(item.botId, item.userId, effect.order);
    const orderId = paid?.orderId ?? item.key;
    const days = effect.access_days;
    const expiresAt = days === undefined ? null : options.now() + days * 86_400_000;
    if (effect.chat_id === undefined) {
      // A static link (the flow's `link`): nothing to issue, only to hand over.
      if (effect.link !== undefined) {
        const grant = await options.access.open({
          orderId,
          botId: item.botId,
          userId: item.userId,
          chatId: 'link',
          linkName: linkNameFor(orderId),
          expiresAt: null,
        });
        if (grant.inviteLink === null) await options.access.setLink(orderId, effect.link);
        await apis.send(item.botId, renderAccessGranted({ kind: 'static', link: effect.link }, chatId));
      }
      return null;
    }
    const grant = await options.access.open({
      orderId,
      botId: item.botId,
      userId: item.userId,
      chatId: String(effect.chat_id),
      linkName: linkNameFor(orderId),
      expiresAt,
    });
    // Refunded or run out meanwhile (a late retry of this effect): nothing to hand over.
    if (grant.status === 'revoked' || grant.status === 'expired') return null;
    let link = grant.inviteLink;
    const joinRequests = (await options.joinRequestsOf?.(item.botId)) ?? true;
    if (link === null) {
      // Telegram refuses member_limit together with creates_join_request: one or the other. Either way
      // the chat_member handler removes anyone but the buyer joining through it, and revokes it on join.
      const created = await apis.call(item.botId, 'createChatInviteLink', {
        chat_id: effect.chat_id,
        name: grant.linkName ?? undefined, // grammY drops nulls from payloads: the same request
        ...(joinRequests ? { creates_join_request: true } : { member_limit: 1 }),
        expire_date: Math.floor((options.now() + (options.inviteTtlMs ?? 86_400_000)) / 1000),
      });
      link = created.invite_link;
      await options.access.setLink(orderId, link);
    }
    const kind = joinRequests ? 'join_request' : 'single_use';
    await apis.send(
      item.botId,
      renderAccessGranted({ kind, link, ...(expiresAt === null ? {} : { days }) }, chatId),
    );
    return null;
  };

  return {
    send: sendRendered,
    sendCharge: sendRendered,
    notice: sendRendered,
    error: sendRendered,
    accessEnded: sendRendered,
    grantAccess,
  };
}
