/**
 * Test helper: pays the sandbox charge a buyer's offer press opened on a whole stack, and waits until
 * botflow has recorded the payment as paid. Answers the order id.
 */
import { createSql } from '../../src/db/sql-client.ts';
import type { Stack } from './start-stack.ts';
import { waitFor } from './wait-for.ts';

export async function payBuyerCharge(stack: Stack, botId: string, userId: number): Promise<string> {
  const sql = createSql(stack.app.db.orm);
  const charge = await waitFor(
    `the charge of ${botId}/${userId}`,
    async () =>
      (
        await sql<{ order_id: string; gateway_charge_id: string | null }>(
          'select order_id, gateway_charge_id from payments where bot_id = $1 and user_id = $2',
          [botId, userId],
        )
      ).find((r) => r.gateway_charge_id !== null),
    10_000,
    20,
  );
  await stack.sandbox.pay(charge.gateway_charge_id!);
  await stack.sandbox.settled();
  await waitFor(
    `payment ${charge.order_id}`,
    async () => (await stack.app.funnel.payments.get(charge.order_id))?.status === 'paid',
    10_000,
    20,
  );
  return charge.order_id;
}
