/**
 * The PixGateway adapter for botflow's sandbox gateway (`src/sim/sandbox-gateway.ts`, or any server
 * speaking its API): bearer-key JSON over HTTP, centavos end to end, whole or partial refunds, webhooks
 * authenticated by an HMAC-SHA256 `X-Sandbox-Signature` with a 5-minute replay window. The API key
 * never enters an error.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BotflowError } from '../errors.ts';
import type { PixCharge, PixGateway, PixStatus, WebhookNotice, WebhookRequest } from './gateway.ts';
import { isRecord } from '../flow/is-record.ts';
import {
  type GatewayAnswer,
  type GatewayPool,
  GatewayRequestFailure,
  requestGateway,
} from './gateway-request.ts';

const STATUSES: ReadonlySet<string> = new Set<PixStatus>([
  'pending',
  'paid',
  'expired',
  'canceled',
  'refunded',
  'failed',
]);
/** Signatures older (or further ahead) than this are refused, so a captured webhook cannot be replayed later. */
const TOLERANCE_SECONDS = 300;

/** Reads one header case-insensitively (duplicates joined like Node joins them). */
function headerOf(headers: WebhookRequest['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

/** Creates the adapter for the sandbox at `apiBase`. */
export function createSandboxGateway(options: {
  apiBase: string;
  apiKey: string;
  webhookSecret: string;
  now?: () => number;
  /** The keep-alive pool to call over (undici's global one when absent). */
  pool?: GatewayPool;
}): PixGateway {
  const base = options.apiBase.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const scrub = (text: string) => text.split(options.apiKey).join('[REDACTED]');

  async function call(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    let response: GatewayAnswer;
    try {
      response = await requestGateway(
        {
          method,
          url: `${base}${path}`,
          headers: {
            authorization: `Bearer ${options.apiKey}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          timeoutMs: 10_000,
        },
        options.pool,
      );
    } catch (error) {
      const failure =
        error instanceof GatewayRequestFailure ? error : new GatewayRequestFailure('Error', 'request');
      if (failure.status === undefined)
        throw new BotflowError(
          'UPSTREAM_FAILED',
          `sandbox gateway unreachable (${method} ${path}: ${failure.reason})`,
        );
      // The answer broke off after its status: an empty body, judged by that status as before.
      response = { status: failure.status, ok: failure.status >= 200 && failure.status < 300, text: '' };
    }
    const text = response.text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) {
      if (parsed === undefined)
        throw new BotflowError('UPSTREAM_FAILED', `sandbox gateway answered ${method} ${path} with non-JSON`);
      return parsed;
    }
    const upstream = isRecord(parsed) && isRecord(parsed['error']) ? parsed['error'] : {};
    const code = typeof upstream['code'] === 'string' ? upstream['code'] : undefined;
    const said = typeof upstream['message'] === 'string' ? `: ${scrub(upstream['message'])}` : '';
    const details = { status: response.status, ...(code === undefined ? {} : { upstreamCode: code }) };
    const status = response.status;
    if (status >= 500 || status === 429)
      throw new BotflowError('UPSTREAM_FAILED', `sandbox gateway failed (HTTP ${status})${said}`, {
        details,
      });
    if (status === 401 || status === 403)
      throw new BotflowError('UNAUTHORIZED', 'sandbox gateway rejected the API key', { details });
    if (status === 404) throw new BotflowError('NOT_FOUND', `sandbox gateway: not found${said}`, { details });
    if (status === 409) throw new BotflowError('CONFLICT', `sandbox gateway: conflict${said}`, { details });
    throw new BotflowError('BAD_REQUEST', `sandbox gateway rejected the request${said}`, { details });
  }

  function toPixCharge(raw: unknown): PixCharge {
    const ok =
      isRecord(raw) &&
      typeof raw['id'] === 'string' &&
      Number.isInteger(raw['amount_cents']) &&
      typeof raw['status'] === 'string' &&
      STATUSES.has(raw['status']) &&
      typeof raw['br_code'] === 'string';
    if (!ok) throw new BotflowError('UPSTREAM_FAILED', 'sandbox gateway returned a malformed charge');
    const id = raw['id'] as string;
    return {
      gateway: 'sandbox',
      gatewayChargeId: id,
      orderId: typeof raw['order_id'] === 'string' ? raw['order_id'] : null,
      status: raw['status'] as PixStatus,
      amount: raw['amount_cents'] as number,
      currency: 'BRL',
      brCode: raw['br_code'] as string,
      qrImageUrl: `${base}/v1/charges/${encodeURIComponent(id)}/qr.png`,
      ...(typeof raw['expires_at'] === 'number' ? { expiresAt: raw['expires_at'] } : {}),
      ...(typeof raw['paid_at'] === 'number' ? { paidAt: raw['paid_at'] } : {}),
    };
  }

  return {
    id: 'sandbox',
    async createCharge(input) {
      const body = {
        order_id: input.orderId,
        amount_cents: input.amount,
        description: input.description,
        expires_in_seconds: input.expiresInSeconds,
        notification_url: input.notificationUrl,
      };
      return toPixCharge(
        await call('POST', '/v1/charges', body, { 'idempotency-key': input.idempotencyKey }),
      );
    },
    async getCharge(gatewayChargeId) {
      if (gatewayChargeId === '') throw new BotflowError('BAD_REQUEST', 'a charge id is required');
      return toPixCharge(await call('GET', `/v1/charges/${encodeURIComponent(gatewayChargeId)}`));
    },
    async refund(gatewayChargeId, amount) {
      if (gatewayChargeId === '') throw new BotflowError('BAD_REQUEST', 'a charge id is required');
      if (amount !== undefined && !(Number.isInteger(amount) && amount > 0))
        throw new BotflowError('BAD_REQUEST', 'a refund amount is a positive integer of centavos');
      const path = `/v1/charges/${encodeURIComponent(gatewayChargeId)}/refund`;
      return toPixCharge(await call('POST', path, amount === undefined ? {} : { amount_cents: amount }));
    },
    async verifyAndParseWebhook(request): Promise<WebhookNotice> {
      const header = headerOf(request.headers, 'x-sandbox-signature');
      if (header === undefined) throw new BotflowError('UNAUTHORIZED', 'missing X-Sandbox-Signature header');
      const pairs = header.split(',').map((part) => part.trim().split('=', 2) as [string, string?]);
      const t = pairs.find(([k]) => k === 't')?.[1] ?? '';
      const signatures = pairs.filter(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/i.test(v ?? ''));
      if (!/^\d{1,12}$/.test(t) || signatures.length === 0)
        throw new BotflowError('UNAUTHORIZED', 'malformed X-Sandbox-Signature header');
      if (Math.abs(now() / 1000 - Number(t)) > TOLERANCE_SECONDS)
        throw new BotflowError('UNAUTHORIZED', 'webhook signature timestamp is outside the 5-minute window');
      const expected = createHmac('sha256', options.webhookSecret)
        .update(`${t}.`)
        .update(request.rawBody)
        .digest();
      if (!signatures.some(([, v]) => timingSafeEqual(Buffer.from(v!, 'hex'), expected)))
        throw new BotflowError('UNAUTHORIZED', 'webhook signature does not match');
      let body: unknown;
      try {
        body = JSON.parse(request.rawBody.toString('utf8'));
      } catch (error) {
        throw new BotflowError('BAD_REQUEST', 'webhook body is not JSON', { cause: error });
      }
      if (!isRecord(body) || typeof body['id'] !== 'string' || body['id'] === '')
        throw new BotflowError('BAD_REQUEST', 'webhook has no event id');
      if (typeof body['charge_id'] !== 'string' || body['charge_id'] === '')
        throw new BotflowError('BAD_REQUEST', 'webhook has no charge_id');
      const status = body['status'];
      return {
        gatewayChargeId: body['charge_id'],
        dedupKey: `sandbox:${body['id']}`,
        ...(typeof status === 'string' && STATUSES.has(status) ? { claimedStatus: status as PixStatus } : {}),
        authenticated: 'signature',
      };
    },
  };
}
