import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type DemoReport, runDemo } from '../../src/demo/run-demo.ts';
import type { BotflowError } from '../../src/errors.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

let fresh: FreshDatabase;
before(async () => {
  fresh = await createFreshDatabase();
});
after(async () => {
  await fresh.drop();
});

const env = () => ({
  DATABASE_URL: fresh.url,
  REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
  LOG_LEVEL: 'silent',
  BOTFLOW_TEST_PREFIX: randomBytes(4).toString('hex'),
});

/** The report of 30 buyers: 3 send garbage, 6 let the charge expire, 21 pay; 2 never clicked an ad. */
function checkReport(report: DemoReport, workers: number): void {
  assert.equal(report.errors, 0, report.error_samples.join('\n'));
  assert.equal(report.ok, true);
  assert.equal(report.buyers, 30);
  assert.equal(report.workers, workers);
  assert.equal(report.paid, 21);
  assert.equal(report.expired, 6);
  assert.equal(report.charges, 27);
  assert.equal(report.clicks, 28);
  assert.equal(report.access_granted, report.paid);
  assert.equal(report.joined, report.paid);
  assert.equal(report.purchase_events_sent, report.paid);
  assert.equal(report.duplicate_events, 0);
  assert.equal(report.lost_events, 0);
  assert.equal(report.paid_without_access, 0);
  // Every purchase from a tracked click carries the click's fbc, fbp, IP and user agent.
  assert.equal(report.tracked_purchases_missing_click_data, 0);
  assert.equal(report.purchase_events_with_fbc, report.purchases_from_tracked_clicks);
  assert.equal(report.purchase_events_with_ip_ua, report.purchases_from_tracked_clicks);
  assert.equal(report.purchases_from_tracked_clicks + report.untracked_purchases_sent, report.paid);
  // Every paid buyer answered the e-mail question: their Purchase carries it (hashed) as em.
  assert.equal(report.purchase_events_with_em, report.paid);
  assert.equal(report.purchase_events_with_ph, 0, 'the VIP funnel asks for no phone');
  assert.ok(report.untracked_purchases_sent >= 1, 'a buyer who never clicked still produces a Purchase');
  assert.ok(report.p50_ms > 0 && report.p99_ms >= report.p50_ms, 'latencies come from accepted webhooks');
}

describe('botflow demo', () => {
  it('runs the whole funnel on Postgres and Redis: every paid order has access and exactly one Purchase with its click', async () => {
    checkReport(await runDemo({ buyers: 30, env: env() }), 1);
  });

  it('runs the same funnel on a real two-worker cluster sharing one port', async () => {
    checkReport(await runDemo({ buyers: 30, workers: 2, env: env() }), 2);
  });

  it('refuses several workers on the embedded database, with a coded error', async () => {
    await assert.rejects(
      runDemo({ buyers: 1, workers: 2, env: { LOG_LEVEL: 'silent' } }),
      (error: BotflowError) =>
        error.code === 'BAD_REQUEST' && /DATABASE_URL and REDIS_URL/.test(error.message),
    );
  });
});
