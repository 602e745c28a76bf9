/**
 * A loopback stand-in for Mercado Pago's Payments API, replaying its documented shapes: bearer access
 * token, mandatory `X-Idempotency-Key`, PIX payments in decimal reais with a BR Code and QR image,
 * refunds, `{message,error,status,cause}` errors, and `payment.updated` webhooks signed with
 * `x-signature: ts=…,v1=…` over the manifest, sent to `notification_url?data.id=…&type=payment`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import QRCode from 'qrcode';
import { BotflowError } from '../errors.ts';
import { reaisToCents } from '../payments/reais.ts';
import { startReplayServer, type ReplayReply, type ReplayRequest, type ReplayServer } from './replay-http.ts';
import { buildSandboxBrCode } from './sandbox-br-code.ts';
import { isRecord } from '../flow/is-record.ts';

/** A payment as the replay stores it (Mercado Pago's field names). */
export interface MercadoPagoPayment {
  id: number;
  status: 'pending' | 'approved' | 'cancelled' | 'refunded' | 'rejected';
  status_detail: string;
  transaction_amount: number;
  transaction_amount_refunded: number;
  currency_id: 'BRL';
  description: string;
  external_reference: string | null;
  notification_url: string | null;
  date_created: string;
  date_of_expiration: string;
  date_approved: string | null;
  payment_method_id: 'pix';
  payment_type_id: 'bank_transfer';
  point_of_interaction: {
    type: 'OPENPLATFORM';
    transaction_data: { qr_code: string; qr_code_base64: string; ticket_url: string };
  };
}

/** A running replay. */
export interface MercadoPagoReplay extends Omit<ReplayServer, 'deliver'> {
  payments: Map<string, MercadoPagoPayment>;
  /** Approves a pending payment and sends its webhook. */
  pay(id: string | number): Promise<void>;
  /** Cancels a pending payment as expired and sends its webhook. */
  expire(id: string | number): Promise<void>;
}

const MIN_EXPIRY_MS = 30 * 60_000;
const MAX_EXPIRY_MS = 30 * 86400_000;
const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?([+-]\d{2}:\d{2}|Z)$/;

const fail = (status: number, error: string, message: string, code?: number): ReplayReply => ({
  status,
  body: {
    message,
    error,
    status,
    cause: code === undefined ? [] : [{ code, description: message, data: null }],
  },
});

/** Starts the replay for one account: its access token and its application's webhook secret. */
export async function startMercadoPagoReplay(options: {
  accessToken: string;
  webhookSecret: string;
  now?: () => number;
  /** The unit of the signature's `ts`: seconds as in the docs, or milliseconds. */
  tsUnit?: 's' | 'ms';
  retryBaseMs?: number;
}): Promise<MercadoPagoReplay> {
  const now = options.now ?? Date.now;
  const payments = new Map<string, MercadoPagoPayment>();
  const byKey = new Map<string, { reply: ReplayReply }>();
  let nextId = 1_300_000_000 + Math.floor(Math.random() * 1_000_000);
  let nextNotification = 20_000_000_000 + Math.floor(Math.random() * 1_000_000);
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '-00:00');

  /** Reads a payment, applying expiry lazily like the real one does on its own schedule. */
  const view = (p: MercadoPagoPayment): MercadoPagoPayment => {
    if (p.status === 'pending' && now() >= Date.parse(p.date_of_expiration)) {
      p.status = 'cancelled';
      p.status_detail = 'expired';
    }
    return structuredClone(p);
  };

  async function create(request: ReplayRequest): Promise<ReplayReply> {
    const key = request.headers['x-idempotency-key'];
    if (typeof key !== 'string' || key === '')
      return fail(400, 'bad_request', 'X-Idempotency-Key header is required', 1);
    const known = byKey.get(key);
    if (known !== undefined) return known.reply;
    let b: unknown;
    try {
      b = JSON.parse(request.body);
    } catch {
      return fail(400, 'bad_request', 'Invalid JSON body', 1);
    }
    if (!isRecord(b)) return fail(400, 'bad_request', 'Invalid JSON body', 1);
    const amount = b['transaction_amount'];
    const cents = typeof amount === 'number' ? reaisToCents(amount) : null;
    if (cents === null || cents < 1)
      return fail(400, 'bad_request', 'transaction_amount must be a positive number with 2 decimals', 4037);
    if (b['payment_method_id'] !== 'pix')
      return fail(400, 'bad_request', 'payment_method_id must be pix', 4033);
    const payer = b['payer'];
    if (!isRecord(payer) || typeof payer['email'] !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(payer['email']))
      return fail(400, 'bad_request', 'payer.email must be a valid email', 4050);
    const url = b['notification_url'];
    if (url !== undefined && (typeof url !== 'string' || !URL.canParse(url)))
      return fail(400, 'bad_request', 'notification_url attribute must be url valid', 4020);
    const expiry = b['date_of_expiration'];
    let expiresAt = now() + 86400_000;
    if (expiry !== undefined) {
      if (typeof expiry !== 'string' || !DATE.test(expiry))
        return fail(
          400,
          'bad_request',
          "The following parameters must be valid date and format (yyyy-MM-dd'T'HH:mm:ssz) date_of_expiration",
          23,
        );
      expiresAt = Date.parse(expiry);
      const ahead = expiresAt - now();
      if (ahead < MIN_EXPIRY_MS - 60_000 || ahead > MAX_EXPIRY_MS + 60_000)
        return fail(400, 'bad_request', 'date_of_expiration must be between 30 minutes and 30 days', 4292);
    }
    const reference = typeof b['external_reference'] === 'string' ? b['external_reference'] : null;
    const id = nextId++;
    const brCode = buildSandboxBrCode({ chargeId: `MP${id}`, orderId: reference ?? '', amountCents: cents });
    const payment: MercadoPagoPayment = {
      id,
      status: 'pending',
      status_detail: 'pending_waiting_transfer',
      transaction_amount: amount as number,
      transaction_amount_refunded: 0,
      currency_id: 'BRL',
      description: typeof b['description'] === 'string' ? b['description'] : '',
      external_reference: reference,
      notification_url: typeof url === 'string' ? url : null,
      date_created: iso(now()),
      date_of_expiration: iso(expiresAt),
      date_approved: null,
      payment_method_id: 'pix',
      payment_type_id: 'bank_transfer',
      point_of_interaction: {
        type: 'OPENPLATFORM',
        transaction_data: {
          qr_code: brCode,
          qr_code_base64: (await QRCode.toBuffer(brCode, { type: 'png' })).toString('base64'),
          ticket_url: `https://www.mercadopago.com.br/payments/${id}/ticket`,
        },
      },
    };
    payments.set(String(id), payment);
    const reply = { status: 201, body: view(payment) };
    byKey.set(key, { reply });
    return reply;
  }

  function refund(payment: MercadoPagoPayment, request: ReplayRequest): ReplayReply {
    const key = request.headers['x-idempotency-key'];
    if (typeof key !== 'string' || key === '')
      return fail(400, 'bad_request', 'X-Idempotency-Key header is required', 1);
    const known = byKey.get(`refund:${key}`);
    if (known !== undefined) return known.reply;
    if (payment.status !== 'approved')
      return fail(400, 'bad_request', `Payment in status ${payment.status} cannot be refunded`, 2063);
    let b: unknown;
    try {
      b = request.body === '' ? {} : JSON.parse(request.body);
    } catch {
      return fail(400, 'bad_request', 'Invalid JSON body', 1);
    }
    const total = reaisToCents(payment.transaction_amount)!;
    const done = reaisToCents(payment.transaction_amount_refunded)!;
    const asked = isRecord(b) && b['amount'] !== undefined ? reaisToCents(b['amount']) : total - done;
    if (asked === null || asked < 1 || asked > total - done)
      return fail(400, 'bad_request', 'Invalid refund amount', 4040);
    payment.transaction_amount_refunded = (done + asked) / 100;
    if (done + asked === total) [payment.status, payment.status_detail] = ['refunded', 'refunded'];
    const reply = {
      status: 201,
      body: {
        id: nextId++,
        payment_id: payment.id,
        amount: asked / 100,
        status: 'approved',
        date_created: iso(now()),
      },
    };
    byKey.set(`refund:${key}`, { reply });
    return reply;
  }

  const server = await startReplayServer(
    (request) => {
      const m = /^\/v1\/payments(?:\/(\d+)(\/refunds)?)?$/.exec(request.path);
      if (m === null) return fail(404, 'not_found', 'resource not found');
      if (request.headers.authorization !== `Bearer ${options.accessToken}`)
        return fail(401, 'unauthorized', 'invalid access token', 2000);
      const [id, refunds] = [m[1], m[2]];
      if (id === undefined)
        return request.method === 'POST' ? create(request) : fail(405, 'method_not_allowed', 'x');
      const payment = payments.get(id);
      if (payment === undefined) return fail(404, 'not_found', 'Payment not found', 2000);
      if (refunds !== undefined && request.method === 'POST') return refund(payment, request);
      if (refunds === undefined && request.method === 'GET') return { status: 200, body: view(payment) };
      return fail(405, 'method_not_allowed', 'method not allowed');
    },
    {
      ...(options.retryBaseMs === undefined ? {} : { retryBaseMs: options.retryBaseMs }),
      errorBody: (status) => ({ message: 'injected', error: 'injected', status, cause: [] }),
    },
  );

  /** Sends `payment.updated` for a payment, signed as Mercado Pago signs it. */
  function notify(payment: MercadoPagoPayment): void {
    if (payment.notification_url === null) return;
    const dataId = String(payment.id);
    const url = new URL(payment.notification_url);
    url.searchParams.set('data.id', dataId);
    url.searchParams.set('type', 'payment');
    const ts = options.tsUnit === 'ms' ? String(now()) : String(Math.floor(now() / 1000));
    const requestId = randomUUID();
    const v1 = createHmac('sha256', options.webhookSecret)
      .update(`id:${dataId};request-id:${requestId};ts:${ts};`)
      .digest('hex');
    const body = {
      id: nextNotification++,
      live_mode: false,
      type: 'payment',
      date_created: iso(now()),
      user_id: 123456789,
      api_version: 'v1',
      action: 'payment.updated',
      data: { id: dataId },
    };
    server.deliver(
      url.toString(),
      { 'content-type': 'application/json', 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': requestId },
      JSON.stringify(body),
    );
  }

  async function transition(id: string | number, to: 'approved' | 'expired'): Promise<void> {
    const payment = payments.get(String(id));
    if (payment === undefined) throw new BotflowError('NOT_FOUND', `no payment ${id}`);
    if (view(payment).status !== 'pending' && to === 'approved')
      throw new BotflowError('CONFLICT', `payment ${id} is ${payment.status}`);
    if (to === 'approved')
      [payment.status, payment.status_detail, payment.date_approved] = ['approved', 'accredited', iso(now())];
    else [payment.status, payment.status_detail] = ['cancelled', 'expired'];
    notify(payment);
  }

  return {
    ...server,
    payments,
    pay: (id) => transition(id, 'approved'),
    expire: (id) => transition(id, 'expired'),
  };
}
