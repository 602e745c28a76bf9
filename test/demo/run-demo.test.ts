import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
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

/** Tables of the fresh database that still hold rows (the migrations' own bookkeeping aside). */
async function tablesWithRows(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`,
    );
    const left: string[] = [];
    for (const { table_name: table } of rows) {
      if (table === 'shard_epochs' || table.includes('migration')) continue;
      const count = await client.query<{ n: string }>(`select count(*)::text as n from "${table}"`);
      if (count.rows[0]!.n !== '0') left.push(`${table}: ${count.rows[0]!.n}`);
    }
    return left;
  } finally {
    await client.end();
  }
}

/** Redis keys the demo runs of this process wrote (their prefix starts with `bf-demo-<pid>-`). */
async function demoKeys(): Promise<string[]> {
  const redis = new Redis(process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379');
  try {
    return await redis.keys(`bf-demo-${process.pid}-*`);
  } finally {
    redis.disconnect();
  }
}

describe('botflow demo', () => {
  it('runs the whole funnel on Postgres and Redis: every paid order has access and exactly one Purchase with its click', async () => {
    checkReport(await runDemo({ buyers: 30, env: env() }), 1);
    // It removes what it wrote: no bot, payment, conversation or outbox row, no Redis key.
    assert.deepEqual(await tablesWithRows(fresh.url), []);
    assert.deepEqual(await demoKeys(), []);
  });

  it('on the embedded database it writes to a throwaway directory, or to BOTFLOW_DATA_DIR with keep', async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), 'botflow-demo-test-')), 'data');
    const embedded = { LOG_LEVEL: 'silent', BOTFLOW_DATA_DIR: dataDir };
    const report = await runDemo({ buyers: 2, env: embedded });
    assert.equal(report.errors, 0, report.error_samples.join('\n'));
    assert.equal(existsSync(dataDir), false, "the operator's data directory is untouched");
    await runDemo({ buyers: 2, env: embedded, keep: true });
    assert.ok((await readdir(dataDir)).length > 0, 'kept: the run is in BOTFLOW_DATA_DIR');
  });

  it('runs the same funnel on a real two-worker cluster sharing one port', async () => {
    checkReport(await runDemo({ buyers: 30, workers: 2, env: env() }), 2);
    assert.deepEqual(await tablesWithRows(fresh.url), [], 'the cluster run leaves nothing either');
  });

  it('refuses several workers on the embedded database, with a coded error', async () => {
    await assert.rejects(
      runDemo({ buyers: 1, workers: 2, env: { LOG_LEVEL: 'silent' } }),
      (error: BotflowError) =>
        error.code === 'BAD_REQUEST' && /DATABASE_URL and REDIS_URL/.test(error.message),
    );
  });
});
