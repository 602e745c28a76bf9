/**
 * `botflow payments refund`: refunds a paid order at its gateway through a running botflow's admin
 * API, which reads the charge back and takes the access away on a full refund.
 */
import { BotflowError } from '../../errors.ts';
import type { AdminClient } from '../admin-client.ts';
import type { CliIo } from '../io.ts';

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
