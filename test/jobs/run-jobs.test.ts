import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSql } from '../../src/db/sql-client.ts';
import { inputKeys } from '../../src/runtime/input-keys.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

let h: VipFunnel;
let sql: ReturnType<typeof createSql>;
before(async () => {
  h = await startVipFunnel(7200000021);
  sql = createSql(h.app.db.orm);
});
after(() => h.close());

const count = async (table: string, where: string) =>
  Number((await sql<{ n: string }>(`select count(*)::text as n from ${table} where ${where}`))[0]!.n);
const outcome = async (kind: string) => {
  const match = new RegExp(`botflow_job_outcomes_total\\{kind="${kind}"\\} (\\d+)`).exec(
    await h.app.metrics.registry.metrics(),
  );
  return match === null ? 0 : Number(match[1]);
};

describe('the periodic jobs (bootstrap, Postgres, Redis, fake Bot API, sandbox gateway)', () => {
  it('expire a lost charge, and count what they did in /metrics', async () => {
    const orderId = await h.checkout(901);
    // Past the 30-minute charge on botflow's clock; the gateway never said a word.
    await h.runJobsAt(31 * 60_000);
    assert.equal((await h.app.funnel.payments.get(orderId))!.status, 'expired');
    assert.equal(await outcome('payments_reconciled'), 1, 'the one lost charge');
    assert.equal(
      await outcome('conversions_handled'),
      1,
      'the InitiateCheckout went to Meta (a /start without a click records no Lead)',
    );
  });

  it('delete finished outbox rows past the retention period (14 days by default), never pending ones', async () => {
    await h.checkout(902);
    // Everything so far made 15 days old (ids keep growing with time, as in life).
    await sql(`update effects set created_at = now() - interval '15 days'`);
    await sql(`update conversion_events set created_at = now() - interval '15 days'`);
    const pending = await count('effects', `status = 'pending'`);
    // Finished effects, and every conversion event: the same run sends the pending ones before it prunes.
    const finished =
      (await count('effects', `status <> 'pending'`)) + (await count('conversion_events', 'true'));
    assert.ok(finished > 0);
    const prunedBefore = await outcome('rows_pruned');
    // The jobs prune at most every ten minutes: the first test ran them at +31 min on this clock.
    await h.runJobsAt(45 * 60_000);
    assert.equal(await count('effects', `status <> 'pending'`), 0);
    assert.equal(await count('conversion_events', `status <> 'pending'`), 0);
    assert.equal(await count('effects', `status = 'pending'`), pending, 'pending effects are never pruned');
    assert.equal((await outcome('rows_pruned')) - prunedBefore, finished, 'every finished row, counted once');
    const payments = await count('payments', 'true');
    assert.ok(payments >= 2, 'payments are business records and stay');
  });

  it('forget Telegram update keys older than two days, and keep every other input key', async () => {
    const keys = [
      inputKeys.telegram('tbot', 70001),
      inputKeys.payment('paid', 'order-old'),
      inputKeys.effectDone('effect-old'),
    ];
    const fresh = inputKeys.telegram('tbot', 70002);
    await sql(
      `insert into processed_inputs (key, processed_at) select k, now() - interval '3 days' from unnest($1::text[]) k`,
      [keys],
    );
    await sql(`insert into processed_inputs (key) values ($1)`, [fresh]);
    await h.runJobsAt(50 * 60_000);
    const left = await sql<{ key: string }>(
      `select key from processed_inputs where key = any($1::text[]) order by key`,
      [[...keys, fresh]],
    );
    assert.deepEqual(
      left.map((r) => r.key),
      [keys[2], keys[1], fresh].sort(),
    );
  });
});
