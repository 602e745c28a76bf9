/**
 * The payment record writers inside the group commit statement, against real Postgres: what a charge
 * and a status write, and that they find each payment by its order id even in a generic plan made
 * while `payments` was small (an `update ... from` made then read all of it on every commit).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { buildCommitStatement, writeCommitBatch } from '../../src/db/write-commit-batch.ts';
import { PAYMENT_RECORD_WRITERS } from '../../src/payments/payment-record-writers.ts';
import type { CommitRecord, CommitRow } from '../../src/runtime/ports.ts';
import { useMigratedDatabase } from '../db/fresh-database.ts';
import { createCommitRows } from '../support/commit-row.ts';

const newRow = createCommitRows('prw', 20_000);
const row = (records: CommitRecord[], overrides: Partial<CommitRow> = {}): CommitRow =>
  newRow({ records, ...overrides });

const charge = (orderId: string, chargeId: string): CommitRecord => ({
  kind: 'chargeCreated',
  orderId,
  gateway: 'sandbox',
  gatewayChargeId: chargeId,
  brCode: `br-${chargeId}`,
  expiresAt: null,
  tracking: { source: 'ad' },
});
const status = (orderId: string, value: string): CommitRecord => ({
  kind: 'paymentStatus',
  orderId,
  status: value,
  at: Date.UTC(2026, 0, 2),
});

describe('payment record writers in a generic plan made on small tables', () => {
  const database = useMigratedDatabase();
  const statement = buildCommitStatement(PAYMENT_RECORD_WRITERS);

  it('probes payments by order id, writing the first charge and the status rules as before', async () => {
    const session = new pg.Client({ connectionString: database.url });
    await session.connect();
    const query = async (text: string, values: unknown[] = []) => (await session.query(text, values)).rows;
    try {
      await session.query(`set plan_cache_mode = force_generic_plan`);
      const opened = row([], {
        effects: [
          {
            key: 'prw:first',
            effect: {
              type: 'createCharge',
              step: 's',
              order: 'o',
              amount_cents: 990,
              description: 'VIP',
              expires_in_minutes: 30,
            } as never,
          },
        ],
      });
      const small = [opened, row([charge('prw:none', 'c0'), status('prw:none', 'paid')])];
      assert.deepEqual(await writeCommitBatch(session, statement, small, '5', 'bf_prw'), ['ok', 'ok']);
      await query(
        `insert into payments (order_id, bot_id, user_id, flow_step_id, amount_cents, description)
         select 'prw:grown:' || g, 'prw', g, 's', 100, 'd' from generate_series(1, 3000) g`,
      );
      await query(
        `update payments set gateway = 'sandbox', gateway_charge_id = 'kept', br_code = 'br-kept'
         where order_id = 'prw:grown:20'`,
      );
      await query(`update payments set status = 'expired' where order_id = 'prw:grown:21'`);

      await session.query('begin');
      const outcomes = await writeCommitBatch(
        session,
        statement,
        [
          row([charge('prw:first', 'c1')]),
          row([charge('prw:grown:20', 'c2'), status('prw:grown:18', 'failed')]),
          row([status('prw:grown:19', 'paid'), status('prw:grown:17', 'expired')]),
          row([status('prw:grown:21', 'failed'), charge('prw:missing', 'c3'), status('prw:missing', 'paid')]),
          // Two rows naming one order (the domains do not: an order's records go to its own conversation,
          // once in a batch): one write per order, the paid status and the first charge win.
          row([status('prw:grown:22', 'paid'), charge('prw:grown:23', 'c4')]),
          row([status('prw:grown:22', 'expired'), charge('prw:grown:23', 'c5')]),
        ],
        '5',
        'bf_prw',
      );
      const [scans] = await query(
        `select seq_scan::int, idx_tup_fetch::int from pg_stat_xact_user_tables where relname = 'payments'`,
      );
      const payments = await query(
        `select order_id, gateway_charge_id, br_code, status, paid_at, tracking from payments
         where order_id in ('prw:first', 'prw:grown:17', 'prw:grown:18', 'prw:grown:19', 'prw:grown:20',
           'prw:grown:21', 'prw:grown:22', 'prw:grown:23', 'prw:missing', 'prw:none')
         order by order_id`,
      );
      const [count] = await query(`select count(*)::int as n, max(id)::int as max_id from payments`);
      await session.query('rollback');

      assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
      assert.deepEqual(
        payments.map((p) => [
          p.order_id,
          p.gateway_charge_id,
          p.br_code,
          p.status,
          p.paid_at?.toISOString() ?? null,
        ]),
        [
          ['prw:first', 'c1', 'br-c1', 'pending', null],
          ['prw:grown:17', null, null, 'expired', null],
          ['prw:grown:18', null, null, 'failed', null],
          ['prw:grown:19', null, null, 'paid', '2026-01-02T00:00:00.000Z'],
          ['prw:grown:20', 'kept', 'br-kept', 'pending', null],
          ['prw:grown:21', null, null, 'expired', null],
          ['prw:grown:22', null, null, 'paid', '2026-01-02T00:00:00.000Z'],
          ['prw:grown:23', 'c4', 'br-c4', 'pending', null],
        ],
      );
      assert.deepEqual(payments[0]?.tracking, { source: 'ad' });
      // No row for an order that does not exist, and no id taken from the sequence.
      assert.deepEqual(count, { n: 3001, max_id: 3001 });
      // Nine orders, each found by a probe of its order id (and its conflict check), whatever the size of the table.
      assert.equal(scans?.seq_scan, 0);
      assert.ok(
        scans !== undefined && scans.idx_tup_fetch <= 50,
        `index tuples fetched: ${scans?.idx_tup_fetch}`,
      );
    } finally {
      await session.end();
    }
  });
});
