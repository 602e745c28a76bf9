/** A payment as recorded: payments' own types, stored by db/payment-repository.ts. */

/** Payment states (the one list: types, the admin API's filter and the entity read it). */
export const PAYMENT_STATUSES = ['pending', 'paid', 'expired', 'failed', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** A payment row. Money is integer centavos. */
export interface PaymentRecord {
  id: string;
  orderId: string;
  botId: string;
  userId: string;
  flowStepId: string;
  flowOrder: string;
  amountCents: number;
  currency: string;
  description: string;
  gateway: string | null;
  gatewayChargeId: string | null;
  brCode: string | null;
  status: PaymentStatus;
  tracking: Record<string, unknown> | null;
  expiresAt: number | null;
  paidAt: number | null;
  flagged: string | null;
  /** When the order was placed (the commit of the buy press). */
  createdAt: number;
}
