/**
 * botflow's built-in sandbox PIX gateway: a loopback HTTP server that behaves like a real one (bearer
 * auth, idempotent charge creation, valid BR Codes, QR images rendered inline (qr-images.ts), refunds,
 * signed at-least-once webhooks with retries) so the product, its demo and its tests run end to end
 * without a provider or the internet.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BotflowError } from '../errors.ts';
import { createQrImages, type QrRenderer } from '../payments/qr-images.ts';
import { buildSandboxBrCode } from './sandbox-br-code.ts';
import { apiError, invalidCreate, MAX_BODY_BYTES, readRefundBody, type Reply } from './sandbox-requests.ts';
import { createWebhookSender, type DeliveryOptions, type DeliveryRecord } from './sandbox-webhooks.ts';

/** A charge as the sandbox stores it (`status` is the stored one; reads derive lazy expiry). */
export interface SandboxCharge {
  id: string;
  order_id: string;
  amount_cents: number;
  description: string;
  status: 'pending' | 'paid' | 'expired' | 'failed' | 'refunded';
  br_code: string;
  /** Epoch milliseconds. */
  expires_at: number;
  paid_at?: number;
  /** Centavos refunded so far; the charge reads `refunded` once all of it is. */
  refunded_cents?: number;
  notification_url: string;
  idempotency_key: string;
}

/** A running sandbox gateway. */
export interface SandboxGateway {
  url: string;
  charges: Map<string, SandboxCharge>;
  /** Marks a pending charge paid and queues its signed webhook (see `settled`); CONFLICT otherwise. */
  pay(id: string): Promise<void>;
  /** Marks a pending (or lazily expired) charge expired and queues its webhook. */
  expire(id: string): Promise<void>;
  /** Marks a pending charge failed and queues its webhook. */
  fail(id: string): Promise<void>;
  /** Refunds a paid charge (all of what is left, or `amountCents`) and queues its webhook; a partial
   * refund leaves it paid. CONFLICT unless paid, BAD_REQUEST for more than is left. */
  refund(id: string, amountCents?: number): Promise<void>;
  /** Queues a signed webhook claiming `status` without changing the charge (a stale or out-of-order
   * notice); returns its event id. */
  notify(id: string, status: SandboxCharge['status']): string;
  /** Runs `hook` on each new charge before its create request is answered (an instant payer); null clears. */
  onCreate(hook: ((charge: SandboxCharge) => Promise<void>) | null): void;
  /**
   * Pays every new charge the moment it is created: its paid webhook leaves before the create request
   * is answered (the fastest payer there can be; the create answer still says pending).
   */
  payOnCreate(on: boolean): void;
  /** Delivery options for the next webhooks: send each N times (in turn or at once), delay, deliver held
   * batches last-first. */
  setDelivery(o: DeliveryOptions): void;
  /** Every delivery attempt, in the order the answers came back. */
  deliveries: DeliveryRecord[];
  /** Answers the next `times` API requests (not QR images) with `status`, like an outage would. */
  injectError(e: { status: number; times?: number }): void;
  /** Resolves when all webhook deliveries (with retries) have finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the sandbox on loopback (port 0). */
export async function startSandboxGateway(options?: {
  host?: string;
  apiKey?: string;
  webhookSecret?: string;
  now?: () => number;
  retryBaseMs?: number;
  maxAttempts?: number;
  /** Renders `/qr.png` (default: a renderer of its own, closed with the sandbox). */
  qr?: QrRenderer;
}): Promise<SandboxGateway> {
  const now = options?.now ?? Date.now;
  const apiKeyDigest = createHash('sha256')
    .update(options?.apiKey ?? 'sandbox-key')
    .digest();
  const sender = createWebhookSender({
    secret: options?.webhookSecret ?? 'sandbox-secret',
    now,
    retryBaseMs: options?.retryBaseMs ?? 100,
    maxAttempts: options?.maxAttempts ?? 5,
  });
  const qr = options?.qr ?? createQrImages();
  const charges = new Map<string, SandboxCharge>();
  const byKey = new Map<string, { id: string; fingerprint: string }>();
  const injected: Array<{ status: number; times: number }> = [];
  let createHook: ((charge: SandboxCharge) => Promise<void>) | null = null;
  let payOnCreate = false;

  const view = (c: SandboxCharge): SandboxCharge =>
    c.status === 'pending' && now() >= c.expires_at ? { ...c, status: 'expired' } : { ...c };

  async function transition(id: string, to: 'paid' | 'expired' | 'failed'): Promise<void> {
    const charge = charges.get(id);
    if (charge === undefined) throw new BotflowError('NOT_FOUND', `no charge ${id}`);
    const current = view(charge).status;
    if (to === 'expired' ? charge.status !== 'pending' : current !== 'pending')
      throw new BotflowError('CONFLICT', `charge ${id} is ${current} and cannot become ${to}`);
    charge.status = to;
    if (to === 'paid') charge.paid_at = now();
    announce(charge, to);
  }

  async function refund(id: string, amount?: number): Promise<void> {
    const charge = charges.get(id);
    if (charge === undefined) throw new BotflowError('NOT_FOUND', `no charge ${id}`);
    if (charge.status !== 'paid')
      throw new BotflowError('CONFLICT', `charge ${id} is ${view(charge).status} and cannot be refunded`);
    const left = charge.amount_cents - (charge.refunded_cents ?? 0);
    const value = amount ?? left;
    if (!Number.isInteger(value) || value < 1 || value > left)
      throw new BotflowError('BAD_REQUEST', `amount_cents must be an integer between 1 and ${left}`);
    charge.refunded_cents = (charge.refunded_cents ?? 0) + value;
    if (charge.refunded_cents === charge.amount_cents) charge.status = 'refunded';
    announce(charge, charge.status);
  }

  /** Queues the signed notification; returns its event id. */
  function announce(charge: SandboxCharge, status: SandboxCharge['status']): string {
    const eventId = `evt_${randomBytes(12).toString('hex')}`;
    const { id, order_id, amount_cents } = charge;
    const body = { id: eventId, type: 'charge.updated', charge_id: id, order_id, status, amount_cents };
    sender.send({ url: charge.notification_url, chargeId: id, eventId, body: JSON.stringify(body) });
    return eventId;
  }

  function create(req: IncomingMessage, raw: string): Reply {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '' || key.length > 255)
      return apiError(400, 'invalid_request', 'the Idempotency-Key header is required');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return apiError(400, 'invalid_request', 'the body must be JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return apiError(400, 'invalid_request', 'the body must be a JSON object');
    const b = body as Record<string, unknown>;
    const problem = invalidCreate(b);
    if (problem !== null) return apiError(400, 'invalid_request', problem);
    const fields = ['order_id', 'amount_cents', 'description', 'expires_in_seconds', 'notification_url'];
    const fingerprint = JSON.stringify(fields.map((f) => b[f]));
    const known = byKey.get(key);
    if (known !== undefined) {
      if (known.fingerprint !== fingerprint)
        return apiError(409, 'idempotency_conflict', 'this Idempotency-Key was used with other parameters');
      return { status: 200, body: view(charges.get(known.id)!) };
    }
    const id = `ch_${randomBytes(11).toString('hex')}`;
    const charge: SandboxCharge = {
      id,
      order_id: b['order_id'] as string,
      amount_cents: b['amount_cents'] as number,
      description: b['description'] as string,
      status: 'pending',
      br_code: buildSandboxBrCode({
        chargeId: id,
        orderId: b['order_id'] as string,
        amountCents: b['amount_cents'] as number,
      }),
      expires_at: now() + (b['expires_in_seconds'] as number) * 1000,
      notification_url: b['notification_url'] as string,
      idempotency_key: key,
    };
    charges.set(id, charge);
    byKey.set(key, { id, fingerprint });
    const reply = { status: 201, body: view(charge) };
    // transition() queues the webhook synchronously, before this request is answered.
    if (payOnCreate) void transition(id, 'paid');
    return reply;
  }

  async function handle(req: IncomingMessage, raw: string, res: ServerResponse): Promise<Reply | null> {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    const m = /^\/v1\/charges(?:\/([A-Za-z0-9_-]+)(?:\/(qr\.png|pay|expire|fail|refund))?)?$/.exec(path);
    const [id, action] = [m?.[1], m?.[2]];
    const known =
      m !== null &&
      (req.method === 'POST'
        ? (id === undefined) === (action === undefined) && action !== 'qr.png'
        : req.method === 'GET' && id !== undefined && (action === undefined || action === 'qr.png'));
    if (!known) return apiError(404, 'not_found', `no route ${req.method} ${path}`);
    if (action === 'qr.png') {
      // Public like a gateway's QR link: the unguessable charge id is the capability.
      const charge = charges.get(id!);
      if (charge === undefined) return apiError(404, 'not_found', `no charge ${id}`);
      let png: Buffer;
      try {
        png = await qr.render(charge.br_code);
      } catch (error) {
        const code = error instanceof BotflowError ? error.code : 'INTERNAL';
        return apiError(code === 'SHUTTING_DOWN' ? 503 : 500, 'qr_failed', `QR rendering failed (${code})`);
      }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.end(png);
      return null;
    }
    const fault = injected[0];
    if (fault !== undefined) {
      if (--fault.times <= 0) injected.shift();
      return apiError(fault.status, 'injected', 'injected failure');
    }
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (given === '' || !timingSafeEqual(createHash('sha256').update(given).digest(), apiKeyDigest))
      return apiError(401, 'unauthorized', 'a valid API key is required (Authorization: Bearer <key>)');
    if (id === undefined) {
      const reply = create(req, raw);
      if (reply.status === 201 && createHook !== null) {
        const created = reply.body as SandboxCharge;
        await createHook(view(charges.get(created.id)!));
        return { status: 201, body: view(charges.get(created.id)!) };
      }
      return reply;
    }
    if (action === undefined) {
      const charge = charges.get(id);
      return charge === undefined
        ? apiError(404, 'not_found', `no charge ${id}`)
        : { status: 200, body: view(charge) };
    }
    const to = ({ pay: 'paid', expire: 'expired', fail: 'failed' } as const)[action as 'pay'];
    try {
      if (action === 'refund') {
        const asked = readRefundBody(raw);
        if ('problem' in asked) return apiError(400, 'invalid_request', asked.problem);
        await refund(id, asked.amount);
      } else await transition(id, to);
      return { status: 200, body: view(charges.get(id)!) };
    } catch (error) {
      if (!(error instanceof BotflowError)) throw error;
      if (error.code === 'NOT_FOUND') return apiError(404, 'not_found', error.message);
      if (error.code === 'BAD_REQUEST') return apiError(400, 'invalid_request', error.message);
      return apiError(409, 'invalid_state', error.message);
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const send = (reply: Reply | null) => {
        if (reply === null) return;
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply.body));
      };
      if (size > MAX_BODY_BYTES) return send(apiError(413, 'invalid_request', 'the body is too large'));
      handle(req, Buffer.concat(chunks).toString('utf8'), res).then(send, (error: unknown) => {
        send(apiError(500, 'internal', error instanceof Error ? error.message : 'internal error'));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, options?.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    charges,
    pay: (id) => transition(id, 'paid'),
    payOnCreate(on) {
      payOnCreate = on;
    },
    expire: (id) => transition(id, 'expired'),
    fail: (id) => transition(id, 'failed'),
    refund,
    notify(id, status) {
      const charge = charges.get(id);
      if (charge === undefined) throw new BotflowError('NOT_FOUND', `no charge ${id}`);
      return announce(charge, status);
    },
    onCreate(hook) {
      createHook = hook;
    },
    setDelivery: (o) => sender.setDelivery(o),
    deliveries: sender.deliveries,
    injectError: (e) => injected.push({ status: e.status, times: e.times ?? 1 }),
    settled: () => sender.settled(),
    close: async () => {
      sender.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      if (options?.qr === undefined) await qr.close();
    },
  };
}
