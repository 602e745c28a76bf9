/**
 * `botflow payments list|refund`: a bot's payments (to answer "I paid but got nothing"), and refunds of
 * a paid order at its gateway, through a running botflow's admin API (which reads the charge back and
 * takes the access away on a full refund).
 */
import { BotflowError } from '../../errors.ts';
import type { AdminClient } from '../admin-client.ts';
import { formatBrl } from '../../telegram/render-effect.ts';
import { writeListing } from '../write-listing.ts';
import type { CliIo } from '../io.ts';

interface PaymentRow {
  order_id: string;
  user_id: string;
  status: string;
  amount_cents: number;
  access: string | null;
  tracking_source: string | null;
  created_at: string;
}

/** `payments list --bot BOT [--user ID] [--status S] [--json]`. */
export async function runPaymentsList(
  io: CliIo,
  client: AdminClient,
  options: { bot?: string; user?: string; status?: string; json: boolean },
): Promise<number> {
  if (options.bot === undefined)
    throw new BotflowError('BAD_REQUEST', 'payments list needs --bot BOT [--user ID] [--status STATUS]');
  const query = new URLSearchParams({ bot_id: options.bot });
  if (options.user !== undefined) query.set('user_id', options.user);
  if (options.status !== undefined) query.set('status', options.status);
  const { payments } = (await client.request('GET', `/admin/payments?${query}`)) as {
    payments: PaymentRow[];
  };
  return writeListing(io, payments, {
    json: options.json,
    empty: 'no payments',
    header: ['ORDER', 'USER', 'STATUS', 'AMOUNT', 'ACCESS', 'TRACKING', 'CREATED'],
    row: (p) => [
      p.order_id,
      p.user_id,
      p.status,
      formatBrl(p.amount_cents),
      p.access ?? '-',
      p.tracking_source ?? '-',
      p.created_at,
    ],
  });
}

/** `payments refund ORDER_ID [--amount-cents N] [--json]`. */
export async function runPaymentsRefund(
  io: CliIo,
  client: AdminClient,
  orderId: string | undefined,
  options: { amountCents?: string; json: boolean },
): Promise<number> {
  if (orderId === undefined)
    throw new BotflowError(
      'BAD_REQUEST',
      'payments refund needs an order id: botflow payments refund ORDER_ID [--amount-cents N]',
    );
  let amount: number | undefined;
  if (options.amountCents !== undefined) {
    amount = /^[1-9]\d{0,11}$/.test(options.amountCents) ? Number(options.amountCents) : Number.NaN;
    if (Number.isNaN(amount))
      throw new BotflowError('BAD_REQUEST', '--amount-cents must be a whole number of centavos, at least 1');
  }
  const result = (await client.request(
    'POST',
    `/admin/payments/${encodeURIComponent(orderId)}/refund`,
    amount === undefined ? {} : { amount_cents: amount },
  )) as { status: string };
  if (options.json) io.stdout.write(`${JSON.stringify({ order_id: orderId, ...result })}\n`);
  else
    io.stdout.write(
      result.status === 'refunded'
        ? `refunded order ${orderId}: the payment is refunded and the access removed\n`
        : `refunded part of order ${orderId}: the payment stays ${result.status} and the access stays\n`,
    );
  return 0;
}
