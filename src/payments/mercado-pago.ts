/**
 * The PixGateway adapter for Mercado Pago's Payments API (`/v1/payments`, PIX method): amounts in
 * reais converted exactly from centavos, creation under `X-Idempotency-Key`, and webhooks verified by
 * the `x-signature` HMAC over Mercado Pago's manifest. A notification only says "payment X changed",
 * so it claims no status: the payment service always reads the payment back before acting.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BotflowError } from '../errors.ts';
import type { Cents, PixCharge, PixGateway, PixStatus, WebhookNotice, WebhookRequest } from './gateway.ts';
import { createGatewayHttp } from './gateway-http.ts';
import type { GatewayPool } from './gateway-request.ts';
import { centsToReais, reaisToCents } from './reais.ts';
import { isRecord } from '../flow/is-record.ts';

/** Signatures older (or further ahead) than this are refused, so a captured webhook cannot be replayed. */
const TOLERANCE_MS = 300_000;
/** Mercado Pago accepts a PIX expiry between 30 minutes and 30 days after creation. */
const MIN_EXPIRY_S = 30 * 60;
const MAX_EXPIRY_S = 30 * 86400;
/** Brasília has had no daylight saving since 2019; Mercado Pago's examples carry an explicit offset. */
const BRT_OFFSET_MS = -3 * 3600_000;

/** Reads one header or query value case-insensitively (first of repeated values). */
function valueOf(bag: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(bag)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** Formats epoch ms as `yyyy-MM-ddTHH:mm:ss.SSS-03:00`, the shape Mercado Pago documents. */
function formatExpiry(ms: number): string {
  return new Date(ms + BRT_OFFSET_MS).toISOString().replace('Z', '-03:00');
}

/** Maps a payment's `status` (and `status_detail`) to botflow's; null when unknown. */
function statusOf(status: unknown, detail: unknown): PixStatus | null {
  switch (status) {
    case 'pending':
    case 'in_process':
    case 'authorized':
    case 'in_mediation':
      return 'pending';
    case 'approved':
      return 'paid';
    case 'cancelled':
      return detail === 'expired' ? 'expired' : 'canceled';
    case 'refunded':
    case 'charged_back':
      return 'refunded';
    case 'rejected':
      return 'failed';
    default:
      return null;
  }
}

/** Creates the adapter for one Mercado Pago account (its access token and webhook secret). */
export function createMercadoPagoGateway(options: {
  accessToken: string;
  webhookSecret: string;
  apiBase?: string;
  timeoutMs?: number;
  now?: () => number;
  /** The keep-alive pool to call over (undici's global one when absent). */
  pool?: GatewayPool;
  /** Mercado Pago requires a payer e-mail on PIX payments; botflow does not collect one per charge. */
  payerEmail?: string;
}): PixGateway {
  const now = options.now ?? Date.now;
  const call = createGatewayHttp({
    name: 'Mercado Pago',
    baseUrl: options.apiBase ?? 'https://api.mercadopago.com',
    headers: { authorization: `Bearer ${options.accessToken}` },
    secrets: [options.accessToken, options.webhookSecret],
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.pool === undefined ? {} : { pool: options.pool }),
  });
  // A reserved domain: Mercado Pago may e-mail the payer, and no real mailbox must receive it.
  const payerEmail = options.payerEmail ?? 'comprador@example.com';

  function toPixCharge(raw: unknown): PixCharge {
    const malformed = (what: string) =>
      new BotflowError('UPSTREAM_FAILED', `Mercado Pago returned a malformed payment (${what})`);
    if (!isRecord(raw)) throw malformed('not an object');
    const id = raw['id'];
    if (!(typeof id === 'number' && Number.isSafeInteger(id)) && !(typeof id === 'string' && id !== ''))
      throw malformed('id');
    const status = statusOf(raw['status'], raw['status_detail']);
    if (status === null) throw malformed('status');
    const amount = reaisToCents(raw['transaction_amount']);
    if (amount === null) throw malformed('transaction_amount');
    if (raw['currency_id'] !== undefined && raw['currency_id'] !== 'BRL') throw malformed('currency_id');
    const poi = isRecord(raw['point_of_interaction']) ? raw['point_of_interaction'] : {};
    const data = isRecord(poi['transaction_data']) ? poi['transaction_data'] : {};
    const time = (v: unknown) =>
      typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : null;
    const expiresAt = time(raw['date_of_expiration']);
    const paidAt = time(raw['date_approved']);
    const reference = raw['external_reference'];
    return {
      gateway: 'mercadopago',
      gatewayChargeId: String(id),
      orderId: typeof reference === 'string' && reference !== '' ? reference : null,
      status,
      amount,
      currency: 'BRL',
      brCode: typeof data['qr_code'] === 'string' ? data['qr_code'] : '',
      ...(typeof data['qr_code_base64'] === 'string' ? { qrImageBase64: data['qr_code_base64'] } : {}),
      ...(expiresAt === null ? {} : { expiresAt }),
      ...(paidAt === null || status !== 'paid' ? {} : { paidAt }),
    };
  }

  const paymentPath = (id: string) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new BotflowError('BAD_REQUEST', 'a payment id is required');
    return `/v1/payments/${id}`;
  };

  const gateway: PixGateway = {
    id: 'mercadopago',
    async createCharge(input) {
      const expiresIn = Math.min(Math.max(input.expiresInSeconds, MIN_EXPIRY_S), MAX_EXPIRY_S);
      const body = {
        transaction_amount: centsToReais(input.amount),
        payment_method_id: 'pix',
        description: input.description.slice(0, 255),
        external_reference: input.orderId,
        notification_url: input.notificationUrl,
        date_of_expiration: formatExpiry(now() + expiresIn * 1000),
        payer: { email: payerEmail },
      };
      const charge = toPixCharge(
        await call('POST', '/v1/payments', { body, headers: { 'x-idempotency-key': input.idempotencyKey } }),
      );
      if (charge.brCode === '')
        throw new BotflowError('UPSTREAM_FAILED', 'Mercado Pago created a payment without a PIX code');
      return charge;
    },
    async getCharge(gatewayChargeId) {
      return toPixCharge(await call('GET', paymentPath(gatewayChargeId)));
    },
    /** Refunds all of a paid payment, or `amount` centavos of it; the same request twice refunds once. */
    async refund(gatewayChargeId: string, amount?: Cents) {
      const path = `${paymentPath(gatewayChargeId)}/refunds`;
      await call('POST', path, {
        body: amount === undefined ? {} : { amount: centsToReais(amount) },
        headers: {
          'x-idempotency-key': `refund:${gatewayChargeId}:${amount ?? 'full'}`,
          // A PIX refund can wait on the Central Bank: answer 201 in_process instead of an error.
          'x-render-in-process-refunds': 'true',
        },
      });
      return gateway.getCharge(gatewayChargeId);
    },
    async verifyAndParseWebhook(request: WebhookRequest): Promise<WebhookNotice> {
      const header = valueOf(request.headers, 'x-signature');
      if (header === undefined) throw new BotflowError('UNAUTHORIZED', 'missing x-signature header');
      const pairs = header.split(',').map((part) => part.trim().split('=', 2) as [string, string?]);
      const ts = pairs.find(([k]) => k === 'ts')?.[1] ?? '';
      const v1 = pairs.filter(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/i.test(v ?? '')).map(([, v]) => v!);
      if (!/^\d{9,13}$/.test(ts) || v1.length === 0)
        throw new BotflowError('UNAUTHORIZED', 'malformed x-signature header');
      // Mercado Pago's docs show seconds; some deliveries and SDKs use milliseconds: 13 digits means ms.
      const signedAt = ts.length >= 13 ? Number(ts) : Number(ts) * 1000;
      if (Math.abs(now() - signedAt) > TOLERANCE_MS)
        throw new BotflowError('UNAUTHORIZED', 'webhook signature timestamp is outside the 5-minute window');
      const rawId = valueOf(request.query, 'data.id');
      if (rawId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(rawId))
        throw new BotflowError('BAD_REQUEST', 'webhook has no valid data.id query parameter');
      const dataId = /^[a-z0-9]+$/i.test(rawId) ? rawId.toLowerCase() : rawId;
      const requestId = valueOf(request.headers, 'x-request-id');
      // The documented template; a part whose value did not arrive is left out.
      const manifest =
        `id:${dataId};` + (requestId === undefined ? '' : `request-id:${requestId};`) + `ts:${ts};`;
      const expected = createHmac('sha256', options.webhookSecret).update(manifest).digest();
      if (!v1.some((v) => timingSafeEqual(Buffer.from(v, 'hex'), expected)))
        throw new BotflowError('UNAUTHORIZED', 'webhook signature does not match');
      let body: unknown;
      try {
        body = JSON.parse(request.rawBody.toString('utf8'));
      } catch (error) {
        throw new BotflowError('BAD_REQUEST', 'webhook body is not JSON', { cause: error });
      }
      if (!isRecord(body)) throw new BotflowError('BAD_REQUEST', 'webhook body is not an object');
      const type = body['type'] ?? valueOf(request.query, 'type');
      if (type !== undefined && type !== 'payment')
        throw new BotflowError('BAD_REQUEST', `webhook is about ${String(type)}, not a payment`);
      const bodyId = isRecord(body['data']) ? body['data']['id'] : undefined;
      if (bodyId !== undefined && String(bodyId).toLowerCase() !== dataId.toLowerCase())
        throw new BotflowError('BAD_REQUEST', 'webhook body and query name different payments');
      const notification = body['id'];
      const event =
        typeof notification === 'number' || (typeof notification === 'string' && notification !== '')
          ? String(notification)
          : `${dataId}:${ts}`;
      return { gatewayChargeId: rawId, dedupKey: `mercadopago:${event}`, authenticated: 'signature' };
    },
  };
  return gateway;
}
