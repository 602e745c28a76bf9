/**
 * What payments write inside a conversation's commit: the payment row a `createCharge` effect opens
 * (so the charge exists exactly when the intent committed), the gateway's charge once created (with
 * the `payment.created` it causes) and a payment's new status.
 */
import type { CommitRecord, RecordWriter } from '../runtime/ports.ts';

/** A payment's confirmed status, committed with the transition it causes. */
export interface PaymentStatusRecord extends CommitRecord {
  kind: 'paymentStatus';
  orderId: string;
  status: 'paid' | 'expired' | 'failed';
  /** When it happened (ms since epoch); `paid_at` of a paid one. */
  at: number;
}

/** The charge the gateway created for an order, stored with the tracking resolved for it. */
export interface ChargeCreatedRecord extends CommitRecord {
  kind: 'chargeCreated';
  orderId: string;
  gateway: string;
  gatewayChargeId: string;
  brCode: string;
  /** The gateway's expiry (ms since epoch), or null to keep the one the order opened with. */
  expiresAt: number | null;
  tracking: Record<string, unknown> | null;
}

/** Each `createCharge` effect opens its payment row, keyed by the effect's key (a global order id). */
const openPayment: RecordWriter = {
  kind: 'openPayment',
  columns: [
    ['order_id', 'text'],
    ['flow_step_id', 'text'],
    ['flow_order', 'text'],
    ['amount_cents', 'int'],
    ['description', 'text'],
    ['expires_minutes', 'int'],
  ],
  tuples: (row) =>
    row.effects.flatMap(({ key, effect }) =>
      effect.type === 'createCharge'
        ? [
            [
              key,
              effect.step,
              effect.order,
              effect.amount_cents,
              effect.description,
              effect.expires_in_minutes,
            ],
          ]
        : [],
    ),
  statement: (source) =>
    `insert into payments (order_id, bot_id, user_id, flow_step_id, flow_order, amount_cents, description, expires_at)
     select order_id, bot_id, user_id, flow_step_id, flow_order, amount_cents, description,
       now() + make_interval(mins => expires_minutes)
     from ${source} as x on conflict (order_id) do nothing`,
};

/**
 * Applied one after another, a status moves a pending payment and `paid` moves any unpaid one; so of
 * one order's records in a commit, the first `paid` (else the first) has the same end result alone.
 */
const paymentStatus: RecordWriter = {
  kind: 'paymentStatus',
  columns: [
    ['order_id', 'text'],
    ['status', 'text'],
    ['at', 'timestamptz'],
  ],
  tuples: (_row, records) => {
    const byOrder = new Map<string, PaymentStatusRecord>();
    for (const record of records as readonly PaymentStatusRecord[]) {
      const kept = byOrder.get(record.orderId);
      if (kept === undefined || (kept.status !== 'paid' && record.status === 'paid'))
        byOrder.set(record.orderId, record);
    }
    return [...byOrder.values()].map((r) => [r.orderId, r.status, new Date(r.at).toISOString()]);
  },
  statement: (source) =>
    `update payments p set status = x.status,
       paid_at = case when x.status = 'paid' then x.at else p.paid_at end
     from ${source} as x
     where p.order_id = x.order_id and (p.status = 'pending' or (x.status = 'paid' and p.status <> 'paid'))`,
};

/** The first charge stored for an order stays (a re-run of the effect finds the same one). */
const chargeCreated: RecordWriter = {
  kind: 'chargeCreated',
  columns: [
    ['order_id', 'text'],
    ['gateway', 'text'],
    ['charge_id', 'text'],
    ['br_code', 'text'],
    ['expires_at', 'timestamptz'],
    ['tracking', 'jsonb'],
  ],
  tuples: (_row, records) =>
    (records as readonly ChargeCreatedRecord[]).map((r) => [
      r.orderId,
      r.gateway,
      r.gatewayChargeId,
      r.brCode,
      r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
      r.tracking === null ? null : JSON.stringify(r.tracking),
    ]),
  statement: (source) =>
    `update payments p set gateway = x.gateway, gateway_charge_id = x.charge_id, br_code = x.br_code,
       expires_at = coalesce(x.expires_at, p.expires_at), tracking = coalesce(p.tracking, x.tracking)
     from ${source} as x
     where p.order_id = x.order_id and p.gateway_charge_id is null`,
};

/** The record writers payments registers with the conversation store. */
export const PAYMENT_RECORD_WRITERS: readonly RecordWriter[] = [openPayment, chargeCreated, paymentStatus];
