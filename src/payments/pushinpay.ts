/**
 * The PixGateway adapter for PushinPay: `POST /api/pix/cashIn` in centavos, `GET /api/transactions/{id}`
 * as the trusted read, and webhooks authenticated by the shared token PushinPay sends in a header
 * (compared in constant time). PushinPay has no idempotency key and no documented refund API: retried
 * creates are answered from a per-process memory, and `refund` is absent. PushinPay allows one lookup
 * per transaction per minute (more can get the account blocked): within that minute `getCharge`
 * answers the last state PushinPay gave, by lookup or by an authenticated webhook.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BotflowError } from '../errors.ts';
import type { PixCharge, PixGateway, PixStatus, WebhookNotice, WebhookRequest } from './gateway.ts';
import { createGatewayHttp } from './gateway-http.ts';
import type { GatewayPool } from './gateway-request.ts';
import { isRecord } from '../flow/is-record.ts';

/** PushinPay refuses charges under R$ 0,50. */
const MIN_CENTS = 50;
/** How many recent creates are remembered for retries (PushinPay cannot dedupe them itself). */
const REMEMBERED_CREATES = 1000;
/** PushinPay's documented limit: one lookup per transaction per minute. */
const LOOKUP_INTERVAL_MS = 60_000;
/** How many transactions' last states are kept for the lookup limit. */
const REMEMBERED_STATES = 10_000;

const STATUSES: ReadonlyMap<string, PixStatus> = new Map<string, PixStatus>([
  ['created', 'pending'],
  ['pending', 'pending'],
  ['paid', 'paid'],
  ['approved', 'paid'],
  ['expired', 'expired'],
  ['canceled', 'canceled'],
  ['cancelled', 'canceled'],
  ['refunded', 'refunded'],
]);

const digest = (s: string) => createHash('sha256').update(s).digest();

/** An integer number of centavos from a JSON number or digit string ("1333"), else null. */
function centsOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  return null;
}

/** Reads a webhook body: form-encoded or JSON, as the content type says (or whichever parses). */
function parseBody(request: WebhookRequest): Record<string, unknown> {
  const raw = request.rawBody.toString('utf8');
  const type = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  const form = String(type ?? '').includes('application/x-www-form-urlencoded');
  if (!form) {
    try {
      const body: unknown = JSON.parse(raw);
      if (isRecord(body)) return body;
    } catch {
      // not JSON: maybe an unlabelled form
    }
  }
  if (form || /^[\w%.[\]-]+=/.test(raw)) return Object.fromEntries(new URLSearchParams(raw));
  throw new BotflowError('BAD_REQUEST', 'webhook body is neither JSON nor a form');
}

/** Creates the adapter for one PushinPay account (its API token and webhook token). */
export function createPushinPayGateway(options: {
  token: string;
  webhookToken: string;
  apiBase?: string;
  /** The header PushinPay puts the webhook token in (set in its panel); `x-pushinpay-token` by default. */
  webhookTokenHeader?: string;
  timeoutMs?: number;
  now?: () => number;
  /** The keep-alive pool to call over (undici's global one when absent). */
  pool?: GatewayPool;
}): PixGateway {
  const now = options.now ?? Date.now;
  const tokenHeader = (options.webhookTokenHeader ?? 'x-pushinpay-token').toLowerCase();
  const webhookDigest = digest(options.webhookToken);
  const call = createGatewayHttp({
    name: 'PushinPay',
    baseUrl: options.apiBase ?? 'https://api.pushinpay.com.br',
    headers: { authorization: `Bearer ${options.token}` },
    secrets: [options.token, options.webhookToken],
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.pool === undefined ? {} : { pool: options.pool }),
  });
  const created = new Map<string, PixCharge>();
  /** The last state PushinPay gave of each transaction, and when it was last looked up. */
  const latest = new Map<string, { charge: PixCharge; lookedUpAt: number }>();
  const remember = (charge: PixCharge, lookedUpAt: number) => {
    latest.delete(charge.gatewayChargeId);
    if (latest.size >= REMEMBERED_STATES) latest.delete(latest.keys().next().value!);
    latest.set(charge.gatewayChargeId, { charge, lookedUpAt });
  };

  function toPixCharge(raw: unknown, known?: PixCharge): PixCharge {
    const malformed = (what: string) =>
      new BotflowError('UPSTREAM_FAILED', `PushinPay returned a malformed transaction (${what})`);
    // PushinPay answers an unknown transaction with `[]`.
    if (Array.isArray(raw) && raw.length === 0)
      throw new BotflowError('NOT_FOUND', 'PushinPay: no such transaction');
    if (!isRecord(raw)) throw malformed('not an object');
    const id = raw['id'];
    if (typeof id !== 'string' || id === '') throw malformed('id');
    const status = typeof raw['status'] === 'string' ? STATUSES.get(raw['status'].toLowerCase()) : undefined;
    if (status === undefined) throw malformed('status');
    const amount = centsOf(raw['value']);
    if (amount === null) throw malformed('value');
    const details = isRecord(raw['pix_details']) ? raw['pix_details'] : {};
    const brCode = [raw['qr_code'], details['emv'], known?.brCode].find(
      (v) => typeof v === 'string' && v !== '',
    );
    const image = raw['qr_code_base64'];
    const paidAt = typeof raw['paid_at'] === 'string' ? Date.parse(raw['paid_at']) : NaN;
    return {
      gateway: 'pushinpay',
      gatewayChargeId: id,
      orderId: known?.orderId ?? null,
      status,
      amount,
      currency: 'BRL',
      brCode: (brCode as string | undefined) ?? '',
      ...(typeof image === 'string' && image !== ''
        ? { qrImageBase64: image.replace(/^data:image\/\w+;base64,/, '') }
        : {}),
      ...(known?.expiresAt === undefined ? {} : { expiresAt: known.expiresAt }),
      ...(status === 'paid' && !Number.isNaN(paidAt) ? { paidAt } : {}),
    };
  }

  return {
    id: 'pushinpay',
    async createCharge(input) {
      if (!Number.isSafeInteger(input.amount) || input.amount < MIN_CENTS)
        throw new BotflowError(
          'BAD_REQUEST',
          `PushinPay charges must be integer centavos of at least ${MIN_CENTS}`,
        );
      const remembered = created.get(input.idempotencyKey);
      if (remembered !== undefined) return { ...remembered };
      const raw = await call('POST', '/api/pix/cashIn', {
        body: { value: input.amount, webhook_url: input.notificationUrl },
      });
      const charge = toPixCharge(raw, {
        orderId: input.orderId,
        expiresAt: now() + input.expiresInSeconds * 1000,
      } as PixCharge);
      if (charge.brCode === '')
        throw new BotflowError('UPSTREAM_FAILED', 'PushinPay created a charge without a PIX code');
      if (created.size >= REMEMBERED_CREATES) created.delete(created.keys().next().value!);
      created.set(input.idempotencyKey, charge);
      return { ...charge };
    },
    async getCharge(gatewayChargeId) {
      if (!/^[A-Za-z0-9-]{1,64}$/.test(gatewayChargeId))
        throw new BotflowError('BAD_REQUEST', 'a transaction id is required');
      const last = latest.get(gatewayChargeId);
      if (last !== undefined && now() - last.lookedUpAt < LOOKUP_INTERVAL_MS) return { ...last.charge };
      const known = last?.charge ?? [...created.values()].find((c) => c.gatewayChargeId === gatewayChargeId);
      const charge = toPixCharge(await call('GET', `/api/transactions/${gatewayChargeId}`), known);
      remember(charge, now());
      return { ...charge };
    },
    async verifyAndParseWebhook(request): Promise<WebhookNotice> {
      const given = Object.entries(request.headers).find(([k]) => k.toLowerCase() === tokenHeader)?.[1];
      const token = Array.isArray(given) ? given[0] : given;
      if (token === undefined || token === '')
        throw new BotflowError('UNAUTHORIZED', 'missing webhook token header');
      if (!timingSafeEqual(digest(token), webhookDigest))
        throw new BotflowError('UNAUTHORIZED', 'webhook token does not match');
      const body = parseBody(request);
      const id = body['id'];
      if (typeof id !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(id))
        throw new BotflowError('BAD_REQUEST', 'webhook has no transaction id');
      const said = typeof body['status'] === 'string' ? body['status'].toLowerCase() : '';
      const status = STATUSES.get(said);
      // The token vouches for the body: within the lookup limit it is the newest state there is.
      const last = latest.get(id);
      if (last !== undefined) {
        try {
          remember(toPixCharge(body, last.charge), last.lookedUpAt);
        } catch {
          // A body without a full transaction only hints; the next lookup tells.
        }
      }
      return {
        gatewayChargeId: id,
        dedupKey: `pushinpay:${id}:${said === '' ? 'unknown' : said}`,
        ...(status === undefined ? {} : { claimedStatus: status }),
        authenticated: 'shared_token',
      };
    },
  };
}
