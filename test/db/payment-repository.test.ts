import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createPaymentRepository, type PaymentRepository } from '../../src/db/payment-repository.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

let fresh: FreshDatabase;
let db: DatabaseHandle;
let sql: ReturnType<typeof createSql>;
let payments: PaymentRepository;
before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  sql = createSql(db.orm);
  payments = createPaymentRepository(db.orm);
});
after(async () => {
  await db.close();
  await fresh.drop();
});

const NOW = Date.parse('2026-12-07T12:00:00Z');
const MINUTE = 60_000;

/** A conversation in `shard` with a pending charge placed `ageMin` minutes before NOW. */
async function pendingCharge(order: string, userId: number, shard: number, ageMin: number) {
  await sql(
    `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
     values ('b', $1, 'f', 1, '5', '{}', 1, $2) on conflict do nothing`,
    [userId, shard],
  );
  await sql(
    `insert into payments (order_id, bot_id, user_id, flow_step_id, amount_cents, description, gateway,
       gateway_charge_id, expires_at, created_at)
     values ($1, 'b', $2, 'pay', 1990, 'VIP', 'sandbox', $1, $3, $4)`,
    [order, userId, new Date(NOW + 30 * MINUTE).toISOString(), new Date(NOW - ageMin * MINUTE).toISOString()],
  );
}
const due = async (at: number, shards?: number[]) =>
  (await payments.toReconcile(at, at - MINUTE, 100, shards)).map((p) => p.orderId);

describe('payment repository: what reconciliation asks about', () => {
  it('stale pending charges, least recently asked first, each at most once a minute, a worker its own shards', async () => {
    await pendingCharge('o-old', 1, 3, 10);
    await pendingCharge('o-older', 2, 5, 20);
    await pendingCharge('o-fresh', 3, 3, 0);
    assert.deepEqual(await due(NOW), ['o-older', 'o-old'], 'placed over a minute ago, oldest first');
    assert.deepEqual(await due(NOW, [3]), ['o-old'], 'shard 3 only');
    assert.deepEqual(await due(NOW, [7]), []);

    await payments.markChecked(['o-older'], NOW);
    assert.deepEqual(await due(NOW + 10_000), ['o-old'], 'asked 10 s ago: not again yet');
    await payments.markChecked(['o-old'], NOW + 10_000);
    assert.deepEqual(
      (await due(NOW + MINUTE + 5_000)).sort(),
      ['o-fresh', 'o-older'],
      'a minute on: the one asked a minute ago, and the one now stale; not the one asked 55 s ago',
    );
    // Past its expiry, a charge is asked once more even within the minute, then not again.
    const expiry = NOW + 30 * MINUTE;
    await payments.markChecked(['o-older', 'o-old', 'o-fresh'], expiry - 10_000);
    assert.deepEqual((await due(expiry + 1_000)).sort(), ['o-fresh', 'o-old', 'o-older']);
    await payments.markChecked(['o-older', 'o-old', 'o-fresh'], expiry + 1_000);
    assert.deepEqual(await due(expiry + 2_000), []);
  });
});

describe('payment repository: point reads', () => {
  it('reads the payments asked for in one tick in one statement, each caller its own row', async () => {
    await pendingCharge('o-batch-1', 11, 3, 1);
    await pendingCharge('o-batch-2', 12, 3, 1);
    const pool = await db.orm.em.getConnection().getNativeClient();
    const query = pool.query;
    let statements = 0;
    pool.query = ((...args: unknown[]) => {
      statements += 1;
      return (query as (...a: unknown[]) => unknown).apply(pool, args);
    }) as typeof pool.query;
    try {
      const found = await Promise.all(['o-batch-1', 'o-none', 'o-batch-2'].map((o) => payments.get(o)));
      assert.deepEqual(
        found.map((p) => p && [p.orderId, p.userId]),
        [['o-batch-1', '11'], null, ['o-batch-2', '12']],
      );
    } finally {
      pool.query = query;
    }
    assert.equal(statements, 1);
  });
});
