/**
 * Money in, from charge to confirmation. `createCharge` (an effect, retried) resolves the buyer's
 * ad click once, creates the gateway charge under the order's idempotency key and answers
 * `payment.created`. Confirmation — from a verified webhook, the "I have paid" button or the
 * reconciliation poll — always reads the gateway's own state, refuses a mismatched amount, and
 * routes `payment.paid`/`expired`/`failed` to the conversation under a per-order key, together with
 * the payment's new status and its Purchase event, in one commit. A refund marks the payment refunded
 * and takes the order's access back.
 */
import type { Logger } from 'pino';
import type { PixelSettings } from '../tracking/pixel-settings.ts';
import type { PaymentLedger } from './payment-ledger.ts';
import type { PaymentRecord } from './payment-record.ts';
import { BotflowError } from '../errors.ts';
import type { BuyerFacts } from '../flow/machine-setup.ts';
import type { Effect, FlowEvent } from '../flow/types.ts';
import type { Dispatch, DispatchResult, KeyedEffect } from '../runtime/conversation-host.ts';
import type { EffectHandler, GiveUpEvent } from '../runtime/effect-runner.ts';
import { inputKeys } from '../runtime/input-keys.ts';
import type { CommitRecord } from '../runtime/ports.ts';
import type { ClickPayload } from '../tracking/click.ts';
import { buildInitiateCheckoutRow, buildPurchaseRow } from '../tracking/conversion-rows.ts';
import { preferLaterClick, type ResolvedTracking } from '../tracking/resolve-tracking.ts';
import type { PixCharge, PixGateway, WebhookRequest } from './gateway.ts';
import type { ChargeCreatedRecord } from './payment-record-writers.ts';

export interface PaymentServiceOptions {
  payments: PaymentLedger;
  gatewayOf(botId: string): Promise<PixGateway>;
  dispatch(input: Dispatch): Promise<DispatchResult>;
  /** Resolves the buyer's click: once per charge (`charge`, counted), and again at payment (`purchase`). */
  resolveTracking(botId: string, userId: string, purpose: 'charge' | 'purchase'): Promise<ResolvedTracking>;
  pixelOf(botId: string): Promise<PixelSettings | null>;
  /** What the buyer told the bot (their committed conversation's `buyer`), for Meta's user_data. */
  buyerOf(botId: string, userId: string): Promise<BuyerFacts | null>;
  /** The public URL of a tracking link (a `website` event's page). */
  linkUrl(slug: string): string;
  webhookUrl(botId: string): string;
  now(): number;
  logger: Logger;
  /** Takes back the access an order granted (its payment was refunded); idempotent. */
  revokeAccess?(payment: PaymentRecord): Promise<void>;
  /** Whether this process should reconcile the conversation's payments (its shard owner). */
  owns?(botId: string, userId: string): boolean;
  /** The shards this worker owns, so reconciliation reads only its own charges. */
  ownedShards?(): number[];
}

/** The effect that asks for a charge, with the amount and description its order opened with. */
type CreateChargeEffect = Extract<Effect, { type: 'createCharge' }>;

/** The outcome of one confirmation. */
export type ConfirmOutcome = 'paid' | 'expired' | 'failed' | 'pending' | 'flagged' | 'refunded';

/** The payment service. */
export interface PaymentService {
  handlers: { createCharge: EffectHandler; checkCharge: EffectHandler };
  /** A charge given up (its gateway refused it, or every attempt failed) closes its order in the flow. */
  giveUpEvents: { createCharge: GiveUpEvent };
  /**
   * Verifies, confirms with the gateway and commits a webhook's news; throws UNAUTHORIZED when forged,
   * NOT_FOUND for an unknown bot or order (each refusal is logged).
   */
  handleWebhook(botId: string, request: WebhookRequest): Promise<{ status: ConfirmOutcome }>;
  /** Asks the gateway about stale and expired pending charges; returns how many changed. */
  reconcile(limit?: number): Promise<number>;
  /**
   * Refunds a paid order at its gateway (all of it, or `amountCents`), then confirms with `getCharge`
   * like a webhook would: a full refund takes the access back. NOT_FOUND, CONFLICT (not paid),
   * BAD_REQUEST (bad amount, or a gateway without a refund API).
   */
  refund(orderId: string, amountCents?: number): Promise<{ status: ConfirmOutcome }>;
}

/**
 * How often reconciliation asks a gateway about one pending charge: gateways rate-limit lookups
 * (PushinPay: once a minute per transaction, or the account can be blocked), and webhooks carry the news.
 */
const RECONCILE_EVERY_MS = 60_000;

/** Creates the service. */
export function createPaymentService(options: PaymentServiceOptions): PaymentService {
  const { payments, logger } = options;

  function clickOf(payment: Pick<PaymentRecord, 'tracking'>): Partial<ClickPayload> | null {
    const tracking = payment.tracking as { payload?: Partial<ClickPayload> | null } | null;
    return tracking?.payload ?? null;
  }

  /** The charge's click, or a newer one bound by a `/start` that raced the buy press. */
  async function purchaseClick(payment: PaymentRecord): Promise<Partial<ClickPayload> | null> {
    const stored = payment.tracking as ResolvedTracking | null;
    const current = await options
      .resolveTracking(payment.botId, payment.userId, 'purchase')
      .catch(() => null);
    const chosen = current === null ? stored : preferLaterClick(stored, current, payment.createdAt);
    if (chosen !== null && chosen !== stored) {
      await payments.replaceTracking(payment.orderId, { ...chosen });
      logger.info(
        { order_id: payment.orderId, source: chosen.source },
        'purchase carries a click bound after the charge was created',
      );
    }
    return chosen?.payload ?? null;
  }

  /** What the buyer told the bot, for Meta's user_data (none when it cannot be read). */
  async function buyerOf(botId: string, userId: string): Promise<BuyerFacts | null> {
    return options.buyerOf(botId, userId).catch((error: unknown) => {
      logger.warn({ bot_id: botId, code: (error as { code?: string }).code }, 'buyer facts not read');
      return null;
    });
  }

  async function purchaseRecord(payment: PaymentRecord, paidAt: number): Promise<CommitRecord[]> {
    const pixel = await options.pixelOf(payment.botId);
    if (pixel === null) return [];
    const click = await purchaseClick(payment);
    return [
      buildPurchaseRow({
        pixel,
        userId: payment.userId,
        click,
        buyer: await buyerOf(payment.botId, payment.userId),
        at: paidAt,
        linkUrl: options.linkUrl,
        orderId: payment.orderId,
        amountCents: payment.amountCents,
      }),
    ];
  }

  /** Applies the gateway's trusted view of a charge to its payment. */
  async function confirm(payment: PaymentRecord, charge: PixCharge): Promise<ConfirmOutcome> {
    const base = { botId: payment.botId, userId: payment.userId };
    const order = { order: payment.flowOrder, step: payment.flowStepId };
    switch (charge.status) {
      case 'paid': {
        if (charge.amount !== payment.amountCents || charge.currency !== 'BRL') {
          const reason = `gateway reported ${charge.amount} ${charge.currency}, order is ${payment.amountCents} BRL`;
          await payments.flag(payment.orderId, reason);
          logger.error(
            { bot_id: payment.botId, order_id: payment.orderId, code: 'PAYMENT_MISMATCH' },
            reason,
          );
          return 'flagged';
        }
        const at = charge.paidAt ?? options.now();
        await options.dispatch({
          ...base,
          event: { type: 'payment.paid', ...order },
          inputKey: inputKeys.payment('paid', payment.orderId),
          records: [
            { kind: 'paymentStatus', orderId: payment.orderId, status: 'paid', at },
            ...(await purchaseRecord(payment, at)),
          ],
        });
        return 'paid';
      }
      case 'refunded': {
        // No flow event: the conversation is done with this order; its access is taken back here.
        if (await payments.markRefunded(payment.orderId))
          logger.info({ bot_id: payment.botId, order_id: payment.orderId }, 'payment refunded');
        await options.revokeAccess?.(payment);
        return 'refunded';
      }
      case 'expired':
      case 'canceled':
      case 'failed': {
        const status = charge.status === 'failed' ? 'failed' : 'expired';
        if (payment.status !== 'pending') return status;
        await options.dispatch({
          ...base,
          event: { type: `payment.${status}`, ...order } as FlowEvent,
          inputKey: inputKeys.payment(status, payment.orderId),
          records: [{ kind: 'paymentStatus', orderId: payment.orderId, status, at: options.now() }],
        });
        return status;
      }
      default:
        return 'pending';
    }
  }

  /**
   * What a charge needs of its order. A first run reads nothing: the effect carries the amount and
   * description its commit opened the payment row with, and no earlier run can have charged or
   * tracked it. Any other run reads the row, whose stored charge (if any) is the answer.
   */
  async function orderOf(item: KeyedEffect, effect: CreateChargeEffect, firstRun: boolean) {
    if (firstRun)
      return {
        amountCents: effect.amount_cents,
        description: effect.description,
        charge: null,
        tracking: null,
      };
    const payment = await payments.get(item.key);
    if (payment === null) throw new BotflowError('INTERNAL', `payment ${item.key} was not recorded`);
    const { gatewayChargeId, brCode } = payment;
    return {
      amountCents: payment.amountCents,
      description: payment.description,
      charge: gatewayChargeId !== null && brCode !== null ? { gatewayChargeId, brCode } : null,
      tracking: payment.tracking,
    };
  }

  const createCharge: EffectHandler = async (item, run) => {
    const effect = item.effect;
    if (effect.type !== 'createCharge') return null;
    const payment = await orderOf(item, effect, run?.firstRun === true);
    if (payment.charge !== null)
      return {
        type: 'payment.created',
        order: effect.order,
        charge_id: payment.charge.gatewayChargeId,
        br_code: payment.charge.brCode,
      };
    const gateway = await options.gatewayOf(item.botId);
    // Resolved now (it reads Redis, so not inside the commit that started the charge) and stored in
    // the same write as the charge, so whatever sees the charge sees its tracking.
    if (payment.tracking === null)
      payment.tracking = { ...(await options.resolveTracking(item.botId, item.userId, 'charge')) };
    const charge = await gateway.createCharge({
      orderId: item.key,
      idempotencyKey: item.key,
      amount: payment.amountCents,
      description: payment.description,
      expiresInSeconds: effect.expires_in_minutes * 60,
      notificationUrl: options.webhookUrl(item.botId),
    });
    const created: ChargeCreatedRecord = {
      kind: 'chargeCreated',
      orderId: item.key,
      gateway: gateway.id,
      gatewayChargeId: charge.gatewayChargeId,
      brCode: charge.brCode,
      expiresAt: charge.expiresAt ?? null,
      tracking: payment.tracking,
    };
    const records: CommitRecord[] = [created];
    const pixel = await options.pixelOf(item.botId);
    if (pixel !== null)
      records.push(
        buildInitiateCheckoutRow({
          pixel,
          userId: item.userId,
          click: clickOf(payment),
          buyer: await buyerOf(item.botId, item.userId),
          at: options.now(),
          linkUrl: options.linkUrl,
          orderId: item.key,
          amountCents: payment.amountCents,
        }),
      );
    // The charge, its InitiateCheckout and the `payment.created` they cause commit together in the
    // conversation's group commit (under the input key the effect runner would use for the result).
    await options.dispatch({
      botId: item.botId,
      userId: item.userId,
      event: {
        type: 'payment.created',
        order: effect.order,
        charge_id: charge.gatewayChargeId,
        br_code: charge.brCode,
      },
      inputKey: inputKeys.effectDone(item.key),
      records,
    });
    return null;
  };

  const checkCharge: EffectHandler = async (item) => {
    const effect = item.effect;
    if (effect.type !== 'checkCharge') return null;
    const payment = await payments.findByFlowOrder(item.botId, item.userId, effect.order);
    if (payment === null || payment.gatewayChargeId === null || payment.gateway === null)
      return { type: 'payment.unpaid', order: effect.order, step: effect.step };
    const gateway = await options.gatewayOf(item.botId);
    const outcome = await confirm(payment, await gateway.getCharge(payment.gatewayChargeId));
    return outcome === 'pending' ? { type: 'payment.unpaid', order: effect.order, step: effect.step } : null;
  };

  /** Verifies a webhook with its bot's gateway, confirms the charge with the gateway and commits the news. */
  async function handleVerifiedWebhook(
    botId: string,
    request: WebhookRequest,
  ): Promise<{ status: ConfirmOutcome }> {
    const gateway = await options.gatewayOf(botId);
    const notice = await gateway.verifyAndParseWebhook(request);
    const charge = await gateway.getCharge(notice.gatewayChargeId);
    const payment =
      (charge.orderId === null ? null : await payments.get(charge.orderId)) ??
      (await payments.findByCharge(gateway.id, charge.gatewayChargeId));
    if (payment === null || payment.botId !== botId)
      throw new BotflowError('NOT_FOUND', 'no order for this charge');
    if (payment.flagged !== null) return { status: 'flagged' };
    return { status: await confirm(payment, charge) };
  }

  return {
    handlers: { createCharge, checkCharge },
    giveUpEvents: {
      createCharge: (item, error) =>
        item.effect.type === 'createCharge'
          ? { type: 'payment.create_failed', order: item.effect.order, reason: error.code }
          : null,
    },
    async handleWebhook(botId, request) {
      try {
        return await handleVerifiedWebhook(botId, request);
      } catch (error) {
        // A gateway retries what it is refused: say in the log who was refused and why (never the body).
        const code = error instanceof BotflowError ? error.code : 'INTERNAL';
        if (code === 'NOT_FOUND' || code === 'UNAUTHORIZED' || code === 'CONFIG_INVALID')
          logger.warn({ bot_id: botId, code, reason: (error as Error).message }, 'payment webhook refused');
        throw error;
      }
    },
    async refund(orderId, amountCents) {
      const payment = await payments.get(orderId);
      if (payment === null || payment.gatewayChargeId === null)
        throw new BotflowError('NOT_FOUND', 'no charged order with that id');
      if (payment.status !== 'paid')
        throw new BotflowError(
          'CONFLICT',
          `the order is ${payment.status}: only a paid order can be refunded`,
        );
      if (
        amountCents !== undefined &&
        (!Number.isInteger(amountCents) || amountCents < 1 || amountCents > payment.amountCents)
      )
        throw new BotflowError(
          'BAD_REQUEST',
          `amount_cents must be an integer from 1 to ${payment.amountCents}`,
        );
      const gateway = await options.gatewayOf(payment.botId);
      if (gateway.refund === undefined)
        throw new BotflowError(
          'BAD_REQUEST',
          `the ${gateway.id} gateway has no refund API: refund in its panel`,
        );
      await gateway.refund(payment.gatewayChargeId, amountCents);
      const outcome = await confirm(payment, await gateway.getCharge(payment.gatewayChargeId));
      logger.info(
        {
          bot_id: payment.botId,
          order_id: orderId,
          amount_cents: amountCents ?? payment.amountCents,
          outcome,
        },
        'refund requested',
      );
      return { status: outcome };
    },
    async reconcile(limit = 100) {
      const now = options.now();
      // Each pending charge at most once a minute, and once more as soon as it passes its expiry.
      const due = (
        await payments.toReconcile(now, now - RECONCILE_EVERY_MS, limit, options.ownedShards?.())
      ).filter((payment) => options.owns === undefined || options.owns(payment.botId, payment.userId));
      await payments.markChecked(
        due.map((payment) => payment.orderId),
        now,
      );
      let changed = 0;
      for (const payment of due) {
        try {
          const gateway = await options.gatewayOf(payment.botId);
          let charge = await gateway.getCharge(payment.gatewayChargeId!);
          // Gateways without an "expired" status (Bacen style): past its expiry, pending means expired.
          if (charge.status === 'pending' && payment.expiresAt !== null && payment.expiresAt <= now)
            charge = { ...charge, status: 'expired' };
          if ((await confirm(payment, charge)) !== 'pending') changed += 1;
        } catch (error) {
          logger.warn(
            { order_id: payment.orderId, code: (error as { code?: string }).code },
            'reconcile failed',
          );
        }
      }
      return changed;
    },
  };
}
