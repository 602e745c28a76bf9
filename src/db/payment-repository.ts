/**
 * Payments as recorded: opened in the conversation commit that asked for the charge (keyed by the
 * effect's key, a global order id), completed with the gateway's charge once created, moved to
 * paid/expired only in the conversation commit that handles it. This repository reads them and
 * fills in the gateway's side.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PaymentLedger } from '../payments/payment-ledger.ts';
import type { PaymentRecord } from '../payments/payment-record.ts';
import { batchReads } from './batch-reads.ts';
import { createSql } from './sql-client.ts';

export type { PaymentRecord } from '../payments/payment-record.ts';

/** A payment as the operator sees it: the row and the state of its access grant, if any. */
export interface PaymentListing extends PaymentRecord {
  accessStatus: string | null;
}

/** The payment repository: the ledger, and the operator's listing. */
export interface PaymentRepository extends PaymentLedger {
  /** A bot's newest payments first, optionally one buyer's or one status's, with their access. */
  list(filter: {
    botId: string;
    userId?: string;
    status?: PaymentRecord['status'];
    limit: number;
  }): Promise<PaymentListing[]>;
}

interface Row {
  id: string;
  order_id: string;
  bot_id: string;
  user_id: string;
  flow_step_id: string;
  flow_order: string;
  amount_cents: number;
  currency: string;
  description: string;
  gateway: string | null;
  gateway_charge_id: string | null;
  br_code: string | null;
  status: PaymentRecord['status'];
  tracking: Record<string, unknown> | null;
  expires_at: Date | null;
  paid_at: Date | null;
  flagged: string | null;
  created_at: Date;
}

/** The selected columns, qualified by a table alias when given (`p.`). */
const columnsOf = (t = '') =>
  `${t}id::text, ${t}order_id, ${t}bot_id, ${t}user_id::text, ${t}flow_step_id, ${t}flow_order,
  ${t}amount_cents, ${t}currency, ${t}description, ${t}gateway, ${t}gateway_charge_id, ${t}br_code,
  ${t}status, ${t}tracking, ${t}expires_at, ${t}paid_at, ${t}flagged, ${t}created_at`;
const COLUMNS = columnsOf();

const toRecord = (r: Row): PaymentRecord => ({
  id: r.id,
  orderId: r.order_id,
  botId: r.bot_id,
  userId: r.user_id,
  flowStepId: r.flow_step_id,
  flowOrder: r.flow_order,
  amountCents: r.amount_cents,
  currency: r.currency,
  description: r.description,
  gateway: r.gateway,
  gatewayChargeId: r.gateway_charge_id,
  brCode: r.br_code,
  status: r.status,
  tracking: r.tracking,
  expiresAt: r.expires_at === null ? null : new Date(r.expires_at).getTime(),
  paidAt: r.paid_at === null ? null : new Date(r.paid_at).getTime(),
  flagged: r.flagged,
  createdAt: new Date(r.created_at).getTime(),
});

/** Creates the repository over the ORM's pool. */
export function createPaymentRepository(orm: MikroORM): PaymentRepository {
  const sql = createSql(orm);
  const one = async (text: string, params: unknown[]) => {
    const rows = await sql<Row>(text, params);
    return rows[0] === undefined ? null : toRecord(rows[0]);
  };
  // Point reads of one tick (effects of many buyers starting their charges) share one statement.
  const get = batchReads<string, PaymentRecord>(async (orderIds) => {
    const rows = await sql<Row>(`select ${COLUMNS} from payments where order_id = any($1::text[])`, [
      orderIds,
    ]);
    const byOrder = new Map(rows.map((r) => [r.order_id, toRecord(r)]));
    return orderIds.map((o) => byOrder.get(o) ?? null);
  });
  return {
    get,
    async list({ botId, userId, status, limit }) {
      const rows = await sql<Row & { access_status: string | null }>(
        `select ${columnsOf('p.')}, g.status as access_status
         from payments p left join access_grants g on g.order_id = p.order_id
         where p.bot_id = $1 and ($2::bigint is null or p.user_id = $2) and ($3::text is null or p.status = $3)
         order by p.id desc limit $4`,
        [botId, userId ?? null, status ?? null, limit],
      );
      return rows.map((r) => ({ ...toRecord(r), accessStatus: r.access_status }));
    },
    findByCharge: (gateway, chargeId) =>
      one(`select ${COLUMNS} from payments where gateway = $1 and gateway_charge_id = $2`, [
        gateway,
        chargeId,
      ]),
    findByFlowOrder: (botId, userId, flowOrder) =>
      one(
        `select ${COLUMNS} from payments where bot_id = $1 and user_id = $2 and flow_order = $3
         order by id desc limit 1`,
        [botId, userId, flowOrder],
      ),
    async replaceTracking(orderId, tracking) {
      await sql('update payments set tracking = $2 where order_id = $1', [orderId, JSON.stringify(tracking)]);
    },
    async markRefunded(orderId) {
      const rows = await sql<{ order_id: string }>(
        `update payments set status = 'refunded' where order_id = $1 and status in ('pending', 'paid', 'expired')
         returning order_id`,
        [orderId],
      );
      return rows.length > 0;
    },
    async flag(orderId, reason) {
      await sql('update payments set flagged = $2 where order_id = $1', [orderId, reason]);
    },
    async toReconcile(now, staleBefore, limit, shards) {
      const rows = await sql<Row>(
        `select ${COLUMNS} from payments p
         where status = 'pending' and gateway_charge_id is not null and flagged is null
           and (expires_at <= $1 or created_at <= $2)
           and (checked_at is null or checked_at <= $2 or (expires_at <= $1 and checked_at < expires_at))
           and ($4::int[] is null or exists (
             select 1 from conversations c
             where c.bot_id = p.bot_id and c.user_id = p.user_id and c.shard = any($4::int[])))
         order by coalesce(checked_at, created_at) limit $3`,
        [new Date(now).toISOString(), new Date(staleBefore).toISOString(), limit, shards ?? null],
      );
      return rows.map(toRecord);
    },
    async markChecked(orderIds, at) {
      if (orderIds.length === 0) return;
      await sql('update payments set checked_at = $2 where order_id = any($1::text[])', [
        orderIds,
        new Date(at).toISOString(),
      ]);
    },
  };
}
