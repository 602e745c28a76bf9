/** The record writers of payments and tracking (until those domains register their own). */
import type { RecordWriter } from './write-commit-batch.ts';

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

/** The /start binding of an ad click: one per conversation and batch (the last wins). */
const bindTracking: RecordWriter = {
  kind: 'bindTracking',
  columns: [
    ['token', 'text'],
    ['payload', 'jsonb'],
    ['fbclid', 'text'],
  ],
  tuples: (_row, records) => {
    const last = records.at(-1);
    if (last === undefined) return [];
    const payload = last['payload'] ?? null;
    return [
      [last['token'] ?? null, payload === null ? null : JSON.stringify(payload), last['fbclid'] ?? null],
    ];
  },
  statement: (source) =>
    `insert into bot_users (bot_id, user_id, tracking_token, tracking_payload, fbclid)
     select bot_id, user_id, token, payload, fbclid from ${source} as x
     on conflict (bot_id, user_id) do update set last_seen = now(),
       tracking_token = coalesce(excluded.tracking_token, bot_users.tracking_token),
       tracking_payload = coalesce(excluded.tracking_payload, bot_users.tracking_payload),
       fbclid = case when excluded.tracking_token is null then bot_users.fbclid else excluded.fbclid end`,
};

/**
 * A payment's new status. Applied in order, a status moves a pending payment and `paid` moves any
 * unpaid one; so of one order's records the first `paid` (else the first) has the same end result.
 */
const paymentStatus: RecordWriter = {
  kind: 'paymentStatus',
  columns: [
    ['order_id', 'text'],
    ['status', 'text'],
    ['at', 'timestamptz'],
  ],
  tuples: (_row, records) => {
    const byOrder = new Map<string, Record<string, unknown>>();
    for (const r of records) {
      const order = String(r['orderId']);
      const kept = byOrder.get(order);
      if (kept === undefined || (kept['status'] !== 'paid' && r['status'] === 'paid')) byOrder.set(order, r);
    }
    return [...byOrder.values()].map((r) => [
      r['orderId'],
      r['status'],
      new Date(Number(r['at'])).toISOString(),
    ]);
  },
  statement: (source) =>
    `update payments p set status = x.status,
       paid_at = case when x.status = 'paid' then x.at else p.paid_at end
     from ${source} as x
     where p.order_id = x.order_id and (p.status = 'pending' or (x.status = 'paid' and p.status <> 'paid'))`,
};

/** A conversion event for the Meta outbox (deduplicated by event id). */
const conversion: RecordWriter = {
  kind: 'conversion',
  columns: [
    ['event_id', 'text'],
    ['pixel_id', 'text'],
    ['payload', 'jsonb'],
  ],
  tuples: (_row, records) => records.map((r) => [r['eventId'], r['pixelId'], JSON.stringify(r['payload'])]),
  statement: (source) =>
    `insert into conversion_events (event_id, pixel_id, payload)
     select event_id, pixel_id, payload from ${source} as x on conflict (event_id) do nothing`,
};

/** Every built-in record writer. */
export const BUILTIN_RECORD_WRITERS: readonly RecordWriter[] = [
  openPayment,
  bindTracking,
  paymentStatus,
  conversion,
];
