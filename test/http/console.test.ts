/**
 * The console in a real browser: Debian's chromium driven by playwright-core against a demo run's
 * botflow. Logs in, checks the overview's numbers against the JSON, opens the funnel and a buyer, and
 * saves screenshots to .screenshots/ (git-ignored).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { type DemoServing, runDemo } from '../../src/demo/run-demo.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = new URL('../../.screenshots/', import.meta.url).pathname;

let fresh: FreshDatabase;
before(async () => {
  fresh = await createFreshDatabase();
});
after(async () => {
  await fresh.drop();
});

/** Reads `path` under /admin with the bearer token. */
async function adminJson(s: DemoServing, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/admin${path}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
  assert.equal(res.status, 200, path);
  return (await res.json()) as Record<string, unknown>;
}

/** Drives the console at `s.url` in chromium. */
async function driveConsole(s: DemoServing): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'botflow-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const problems: string[] = [];
  const offsite: string[] = [];
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/console/login')) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(s.url) && !r.url().startsWith('data:')) offsite.push(r.url());
    });

    // The login form: a wrong token is refused, the right one sets an HttpOnly SameSite=Strict cookie.
    await page.goto(`${s.url}/console`);
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('#failed:not([hidden])');
    await page.fill('#token', s.adminToken);
    await page.click('button[type=submit]');
    await page.waitForSelector('#overview');
    const [cookie] = await browser.cookies(s.url);
    assert.equal(cookie?.name, 'botflow_console');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.ok(!page.url().includes(s.adminToken), 'no token in the URL');

    // The overview's numbers are the JSON's.
    await page.goto(`${s.url}/console#overview?days=1`);
    await page.waitForSelector('main[aria-busy=false][data-page=overview] #overview');
    const overview = await adminJson(s, '/overview?days=1');
    for (const key of [
      'clicks',
      'starts',
      'charges',
      'paid',
      'revenue_cents',
      'meta_events_sent',
      'meta_events_dead',
    ]) {
      const shown = await page.getAttribute(`.tile[data-key=${key}]`, 'data-value');
      assert.equal(Number(shown), overview[key], key);
    }
    assert.equal(overview['paid'], s.report.paid);
    assert.equal(overview['clicks'], s.report.clicks);
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });

    // The funnel: the diagram (mermaid, drawn in the page) and the bar chart of the steps.
    await page.click('header a[data-page=funnel]');
    await page.waitForSelector('main[aria-busy=false][data-page=funnel] [data-diagram] svg');
    const steps = await page.$$eval('#funnel-steps tr[data-step]', (rows) => rows.length);
    const versions = (await adminJson(s, '/flow-versions'))['versions'] as Array<{
      flow_id: string;
      version: number;
    }>;
    const funnel = await adminJson(
      s,
      `/flows/${versions[0]!.flow_id}/versions/${versions[0]!.version}/funnel?days=30`,
    );
    assert.equal(steps, (funnel['steps'] as unknown[]).length);
    assert.ok((await page.$$('[data-diagram] svg g')).length > 5, 'the diagram has its states');
    assert.ok(await page.$('svg[data-chart=funnel] rect'), 'the bar chart is drawn');
    assert.equal(
      await page.getAttribute('#machine-download', 'download'),
      `${versions[0]!.flow_id}-v${versions[0]!.version}.machine.json`,
    );
    await page.screenshot({ path: join(SHOTS, 'funnel.png'), fullPage: true });

    // A buyer: the current step is highlighted on the diagram; orders and messages are listed.
    const payments = (await adminJson(s, `/payments?bot_id=${s.botId}&status=paid`))['payments'] as Array<{
      user_id: string;
    }>;
    const buyer = await adminJson(s, `/buyers/${s.botId}/${payments[0]!.user_id}`);
    await page.goto(`${s.url}/console#buyer?bot=${s.botId}&user=${payments[0]!.user_id}`);
    await page.waitForSelector('main[aria-busy=false][data-page=buyer] #orders');
    assert.equal(
      await page.getAttribute('.tile[data-key=current_step]', 'data-value'),
      buyer['current_step'] ?? '',
    );
    if (buyer['current_step'] !== null)
      assert.ok(await page.$('[data-diagram] .current'), 'the current step is highlighted');
    assert.ok((await page.$$('#messages tr')).length > 2);
    assert.match((await page.textContent('#orders')) ?? '', /paid/);
    await page.screenshot({ path: join(SHOTS, 'buyer.png'), fullPage: true });

    await page.click('header a[data-page=campaigns]');
    await page.waitForSelector('main[aria-busy=false][data-page=campaigns] #links');
    await page.screenshot({ path: join(SHOTS, 'campaigns.png'), fullPage: true });

    assert.deepEqual(problems, [], 'no script error and no CSP violation');
    assert.deepEqual(offsite, [], 'nothing is loaded from anywhere else');
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
}

describe('the console in chromium', () => {
  it('logs in, shows the JSON numbers, draws the funnel and a buyer', { timeout: 90_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    let driven = false;
    await runDemo({
      buyers: 8,
      env: {
        DATABASE_URL: fresh.url,
        REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
        LOG_LEVEL: 'silent',
      },
      async whileServing(s) {
        assert.equal(s.report.errors, 0, s.report.error_samples.join('\n'));
        await driveConsole(s);
        driven = true;
      },
    });
    assert.equal(driven, true);
  });
});
