/** A PIX charge. Money is integer centavos; `tracking` is the resolution recorded at creation. */
import { defineEntity, p } from '@mikro-orm/core';

import type { PaymentStatus } from '../../payments/payment-record.ts';

export { PAYMENT_STATUSES, type PaymentStatus } from '../../payments/payment-record.ts';

/** Table `payments`; `order_id` is botflow's idempotent order key. */
export const Payment = defineEntity({
  name: 'Payment',
  tableName: 'payments',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    orderId: p.text().unique(),
    botId: p.text(),
    userId: p.bigint('string'),
    flowStepId: p.text(),
    amountCents: p.integer(),
    currency: p.text().default('BRL'),
    description: p.text(),
    gateway: p.text().nullable(),
    gatewayChargeId: p.text().nullable(),
    brCode: p.text().nullable(),
    /** The flow's own name for the order (`<step>:<n>`, unique within a conversation only). */
    flowOrder: p.text().default(''),
    /** Why a payment grants nothing although reported paid (amount or currency mismatch). */
    flagged: p.text().nullable(),
    status: p.text().$type<PaymentStatus>().default('pending'),
    tracking: p.json<Record<string, unknown>>().nullable(),
    expiresAt: p.datetime().nullable(),
    paidAt: p.datetime().nullable(),
    /** When reconciliation last asked the gateway about this pending charge. */
    checkedAt: p.datetime().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  uniques: [{ properties: ['gateway', 'gatewayChargeId'] }],
  indexes: [
    { properties: ['botId', 'userId'] },
    {
      name: 'payments_pending_expires_at_idx',
      expression: `create index "payments_pending_expires_at_idx" on "payments" ("expires_at") where status = 'pending'`,
    },
  ],
});
