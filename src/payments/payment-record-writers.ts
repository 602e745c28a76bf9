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

/**
 * The existing payment rows of `source`'s orders (one lateral probe of the order id each, so only
 * orders that exist) as an insert's rows: its `id` and not-null columns, then `values`; one row per
 * order, the first by `rank`. The writers that change a payment are upserts whose insert never happens
 * (payments are never deleted), because Postgres always finds an upsert's conflicting row by a probe
 * of its unique index, while an `update ... from` lets the plan choose: the group commit's plan is
 * generic, kept per connection, and made on small tables it read all of `payments` (a status) or
 * walked every uncharged payment (a charge) on each commit. An upsert may not touch a row twice, nor
 * may two of them: a batch must not carry both a charge and a status of one order, and the domains
 * never do (an order's records go to its own conversation, which is once in a batch).
 */
function selectExistingPayments(values: string, source: string, rank: string): string {
  return `select q.id, q.order_id, q.bot_id, q.user_id, q.flow_step_id, q.amount_cents, q.description, ${values}
     from (select distinct on (s.order_id) * from ${source} as s order by s.order_id, ${rank}) as x
     cross join lateral (select p.id, p.order_id, p.bot_id, p.user_id, p.flow_step_id, p.amount_cents, p.description
       from payments p where p.order_id = x.order_id limit 1) q`;
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
    `insert into payments (id, order_id, bot_id, user_id, flow_step_id, amount_cents, description, status, paid_at)
     ${selectExistingPayments('x.status, x.at', source, `s.status <> 'paid', s.ord`)}
     on conflict (order_id) do update set status = excluded.status,
       paid_at = case when excluded.status = 'paid' then excluded.paid_at else payments.paid_at end
     where payments.status = 'pending' or (excluded.status = 'paid' and payments.status <> 'paid')`,
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
    `insert into payments (id, order_id, bot_id, user_id, flow_step_id, amount_cents, description,
       gateway, gateway_charge_id, br_code, expires_at, tracking)
     ${selectExistingPayments('x.gateway, x.charge_id, x.br_code, x.expires_at, x.tracking', source, 's.ord')}
     on conflict (order_id) do update set gateway = excluded.gateway,
       gateway_charge_id = excluded.gateway_charge_id, br_code = excluded.br_code,
       expires_at = coalesce(excluded.expires_at, payments.expires_at),
       tracking = coalesce(payments.tracking, excluded.tracking)
     where payments.gateway_charge_id is null`,
};

/** The record writers payments registers with the conversation store. */
export const PAYMENT_RECORD_WRITERS: readonly RecordWriter[] = [openPayment, chargeCreated, paymentStatus];
