/**
 * A loopback stand-in for PushinPay's PIX API, replaying its documented shapes: bearer token,
 * `POST /api/pix/cashIn` in centavos (minimum 50, Laravel-style 422 errors), `GET /api/transactions/{id}`
 * (an unknown id answers 404 `[]`), an optional once-a-minute lookup limit, and webhooks carrying the
 * panel's token in a header, as JSON or form-encoded. PushinPay has no idempotency key, so neither does this.
 */
import { randomUUID } from 'node:crypto';
import QRCode from 'qrcode';
import { BotflowError } from '../errors.ts';
import { startReplayServer, type ReplayReply, type ReplayRequest, type ReplayServer } from './replay-http.ts';
import { buildSandboxBrCode } from './sandbox-br-code.ts';
import { isRecord } from '../flow/is-record.ts';

/** A transaction as the replay stores it (PushinPay's field names). */
export interface PushinPayTransaction {
  id: string;
  status: 'created' | 'paid' | 'canceled';
  value: number;
  qr_code: string;
  qr_code_base64: string;
  webhook_url: string | null;
  end_to_end_id: string | null;
  payer_name: string | null;
  payer_national_registration: string | null;
  created_at: string;
  paid_at?: string;
}

/** A running replay. */
export interface PushinPayReplay extends Omit<ReplayServer, 'deliver'> {
  transactions: Map<string, PushinPayTransaction>;
  /** Marks a created transaction paid and sends its webhook. */
  pay(id: string): Promise<void>;
  /** Cancels a created transaction (PushinPay's only end besides paid) and sends its webhook. */
  expire(id: string): Promise<void>;
}

const invalid = (field: string, message: string): ReplayReply => ({
  status: 422,
  body: { message, errors: { [field]: [message] } },
});

/** Starts the replay for one account: its API token and the webhook token set in its panel. */
export async function startPushinPayReplay(options: {
  token: string;
  webhookToken: string;
  webhookTokenHeader?: string;
  /** How webhooks are encoded: JSON (default) or `application/x-www-form-urlencoded`. */
  webhookEncoding?: 'json' | 'form';
  /** Enforce PushinPay's documented limit of one lookup per transaction per minute (429 beyond). */
  enforceRateLimit?: boolean;
  now?: () => number;
  retryBaseMs?: number;
}): Promise<PushinPayReplay> {
  const now = options.now ?? Date.now;
  const transactions = new Map<string, PushinPayTransaction>();
  const lookedUpAt = new Map<string, number>();
  const header = options.webhookTokenHeader ?? 'x-pushinpay-token';

  async function create(request: ReplayRequest): Promise<ReplayReply> {
    let b: unknown;
    try {
      b = JSON.parse(request.body);
    } catch {
      return invalid('value', 'O corpo da requisição deve ser JSON.');
    }
    if (!isRecord(b)) return invalid('value', 'O campo value é obrigatório.');
    const value = b['value'];
    if (value === undefined) return invalid('value', 'O campo value é obrigatório.');
    if (typeof value !== 'number' || !Number.isInteger(value))
      return invalid('value', 'O campo value deve ser um número inteiro.');
    if (value < 50) return invalid('value', 'O campo value deve ser no mínimo 50.');
    const url = b['webhook_url'];
    if (url !== undefined && url !== null && (typeof url !== 'string' || !URL.canParse(url)))
      return invalid('webhook_url', 'O campo webhook url deve ser uma URL válida.');
    const id = randomUUID().toUpperCase();
    const qr = buildSandboxBrCode({ chargeId: id, orderId: 'PUSHINPAY', amountCents: value });
    const transaction: PushinPayTransaction = {
      id,
      status: 'created',
      value,
      qr_code: qr,
      qr_code_base64: `data:image/png;base64,${(await QRCode.toBuffer(qr, { type: 'png' })).toString('base64')}`,
      webhook_url: typeof url === 'string' ? url : null,
      end_to_end_id: null,
      payer_name: null,
      payer_national_registration: null,
      created_at: new Date(now()).toISOString(),
    };
    transactions.set(id, transaction);
    return { status: 200, body: { ...transaction } };
  }

  const server = await startReplayServer(
    (request) => {
      if (request.headers.authorization !== `Bearer ${options.token}`)
        return { status: 401, body: { message: 'Unauthenticated.' } };
      if (request.method === 'POST' && request.path === '/api/pix/cashIn') return create(request);
      const m = /^\/api\/transactions\/([A-Za-z0-9-]+)$/.exec(request.path);
      if (request.method !== 'GET' || m === null) return { status: 404, body: { message: 'Not Found' } };
      const id = m[1]!;
      if (options.enforceRateLimit === true) {
        const last = lookedUpAt.get(id);
        if (last !== undefined && now() - last < 60_000)
          return { status: 429, body: { message: 'Too Many Attempts.' } };
        lookedUpAt.set(id, now());
      }
      const transaction = transactions.get(id);
      // The documented "not found" answer: an empty list.
      if (transaction === undefined) return { status: 404, body: [] };
      // Lookups report the value as a digit string, as in PushinPay's documented example.
      return { status: 200, body: { ...transaction, value: String(transaction.value) } };
    },
    {
      ...(options.retryBaseMs === undefined ? {} : { retryBaseMs: options.retryBaseMs }),
      errorBody: () => ({ message: 'Server Error' }),
    },
  );

  async function transition(id: string, to: 'paid' | 'canceled'): Promise<void> {
    const transaction = transactions.get(id);
    if (transaction === undefined) throw new BotflowError('NOT_FOUND', `no transaction ${id}`);
    if (transaction.status !== 'created')
      throw new BotflowError('CONFLICT', `transaction ${id} is ${transaction.status}`);
    transaction.status = to;
    if (to === 'paid') {
      transaction.paid_at = new Date(now()).toISOString();
      transaction.end_to_end_id = `E00000000${Date.now()}${Math.random().toString(36).slice(2, 8)}`.slice(
        0,
        32,
      );
      transaction.payer_name = 'PAGADOR DE TESTE';
      transaction.payer_national_registration = '***.456.789-**';
    }
    if (transaction.webhook_url !== null) {
      const fields = {
        id: transaction.id,
        value: String(transaction.value),
        status: transaction.status,
        end_to_end_id: transaction.end_to_end_id ?? '',
        payer_name: transaction.payer_name ?? '',
        payer_national_registration: transaction.payer_national_registration ?? '',
      };
      const form = options.webhookEncoding === 'form';
      server.deliver(
        transaction.webhook_url,
        {
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
          [header]: options.webhookToken,
        },
        form
          ? new URLSearchParams(fields).toString()
          : JSON.stringify({ ...fields, value: transaction.value }),
      );
    }
  }

  return {
    ...server,
    transactions,
    pay: (id) => transition(id, 'paid'),
    expire: (id) => transition(id, 'canceled'),
  };
}
