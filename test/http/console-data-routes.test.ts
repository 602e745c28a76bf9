import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DemoServing, runDemo } from '../../src/demo/run-demo.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

let fresh: FreshDatabase;
before(async () => {
  fresh = await createFreshDatabase();
});
after(async () => {
  await fresh.drop();
});

const TOKEN = 'console-data-admin-token';

/** GETs `path` on the demo's botflow with the admin token (or `headers` instead). */
async function get(
  s: DemoServing,
  path: string,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
) {
  const res = await fetch(`${s.url}${path}`, { headers });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read field by field
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

/** The console's login: CSP, cookie flags, the cookie opening reads (not writes), assets served locally. */
async function checkConsoleLogin(s: DemoServing): Promise<void> {
  const login = await fetch(`${s.url}/console`);
  assert.equal(login.status, 200);
  assert.match(login.headers.get('content-security-policy') ?? '', /script-src 'self'(;|$)/);
  assert.match(await login.text(), /<form method="post" action="\/console\/login"/);
  const wrong = await fetch(`${s.url}/console/login`, {
    method: 'POST',
    body: new URLSearchParams({ token: 'wrong' }),
    redirect: 'manual',
  });
  assert.equal(wrong.status, 303);
  assert.equal(wrong.headers.get('set-cookie'), null);
  const right = await fetch(`${s.url}/console/login`, {
    method: 'POST',
    body: new URLSearchParams({ token: TOKEN }),
    redirect: 'manual',
  });
  assert.equal(right.status, 303);
  const setCookie = right.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /^botflow_console=[^;]+; path=\/; /);
  assert.match(setCookie, /httponly/);
  assert.match(setCookie, /samesite=strict/);
  assert.ok(!setCookie.includes(TOKEN));
  const cookie = setCookie.split(';')[0]!;
  assert.equal((await get(s, '/admin/overview?days=7', { cookie })).status, 200, 'the session reads');
  const write = await fetch(`${s.url}/admin/tracking-links`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ slug: 'x', bot_id: s.botId }),
  });
  assert.equal(write.status, 401, 'a session cookie never writes');
  const app = await fetch(`${s.url}/console`, { headers: { cookie } });
  assert.match(await app.text(), /assets\/mermaid\.min\.js/);
  const mermaid = await fetch(`${s.url}/console/assets/mermaid.min.js`);
  assert.equal(mermaid.status, 200);
  assert.match(mermaid.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(mermaid.headers.get('cache-control') ?? '', /max-age=31536000/);
  assert.ok((await mermaid.arrayBuffer()).byteLength > 1_000_000);
  assert.equal((await fetch(`${s.url}/console/assets/..%2Fpackage.json`)).status, 404);
}

describe('the JSON behind the console (/admin: overview, campaigns, buyer, funnel, machine)', () => {
  it('equals the demo report of a demo run, and is closed without the token', async () => {
    let checked = false;
    await runDemo({
      buyers: 12,
      env: {
        DATABASE_URL: fresh.url,
        REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
        LOG_LEVEL: 'silent',
        BOTFLOW_ADMIN_TOKEN: TOKEN,
      },
      async whileServing(s) {
        const r = s.report;
        assert.equal(r.errors, 0, r.error_samples.join('\n'));
        assert.equal(s.adminToken, TOKEN);
        const closed = await get(s, '/admin/overview?days=1', {});
        assert.equal(closed.status, 401);
        const forged = await get(s, '/admin/overview?days=1', { cookie: 'botflow_console=a.9999999999.b' });
        assert.equal(forged.status, 401, 'a forged session cookie opens nothing');

        const { body: o } = await get(s, `/admin/overview?days=1&bot_id=${s.botId}`);
        assert.equal(o['clicks'], r.clicks);
        assert.equal(o['starts'], r.starts);
        assert.equal(o['charges'], r.charges);
        assert.equal(o['paid'], r.paid);
        assert.equal(o['purchases'], r.purchase_events_sent);
        assert.equal(o['purchases_from_tracked_clicks'], r.purchases_from_tracked_clicks);
        assert.equal(o['meta_events_dead'], 0);
        assert.ok(
          o['meta_events_sent'] >= r.purchase_events_sent + r.clicks,
          'PageViews and Purchases were sent',
        );
        assert.equal(o['revenue_cents'] > 0, true);
        assert.equal(o['conversion_rate'], Math.round((r.paid / r.starts) * 10_000) / 10_000);
        const today = o['series'].at(-1);
        assert.equal(today.paid, r.paid);
        assert.equal(today.starts, r.starts);
        assert.equal((await get(s, '/admin/overview?days=5')).status, 400, 'days is 1, 7 or 30');

        const { body: c } = await get(s, `/admin/campaigns?days=7&bot_id=${s.botId}`);
        assert.equal(c['links'].length, 1);
        const link = c['links'][0];
        assert.equal(link.clicks, r.clicks);
        assert.equal(link.paid, r.purchases_from_tracked_clicks);
        assert.equal(link.campaign, 'demo');
        assert.equal(
          c['utm_campaigns'].reduce((n: number, u: { starts: number }) => n + u.starts, 0),
          link.starts,
          'every tracked start is under some UTM campaign',
        );

        const { body: versions } = await get(s, '/admin/flow-versions');
        const version = versions['versions'].find((v: { flow_id: string }) => v.flow_id === s.flowId);
        assert.equal(version.bot_id, s.botId);
        const { body: f } = await get(
          s,
          `/admin/flows/${s.flowId}/versions/${version.version}/funnel?days=1`,
        );
        assert.match(f['mermaid'], /^stateDiagram-v2\n/);
        assert.ok(f['steps'].length > 3);
        assert.equal(f['steps'][0].drop_from_previous, null);
        // Step counts, written by the group commit: every start entered the first step, every paid
        // order the access step; each step's drop is from the step before.
        const count = (id: string) => f['steps'].find((x: { step: string }) => x.step === id).count;
        assert.equal(f['steps'][0].count, r.starts);
        assert.equal(count('access'), r.paid);
        const [first, second] = f['steps'];
        assert.equal(
          second.drop_from_previous,
          Math.round(((first.count - second.count) / first.count) * 10_000) / 10_000,
        );

        const machine = await fetch(`${s.url}/admin/flows/${s.flowId}/versions/${version.version}/machine`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        assert.match(
          machine.headers.get('content-disposition') ?? '',
          /attachment; filename=".*machine\.json"/,
        );
        assert.ok(((await machine.json()) as { states: object }).states);

        const payers = await get(s, `/admin/payments?bot_id=${s.botId}&status=paid`);
        const buyerId = (payers.body['payments'] as Array<{ user_id: string }>)[0]!.user_id;
        const { body: b } = await get(s, `/admin/buyers/${s.botId}/${buyerId}`);
        assert.equal(b['flow_id'], s.flowId);
        assert.equal(b['orders'][0].status, 'paid');
        assert.equal(b['orders'][0].access, 'granted');
        assert.ok(b['messages'].some((m: { type: string }) => m.type === 'sendCharge'));
        assert.ok(b['messages'].every((m: { text: string }) => typeof m.text === 'string'));
        assert.equal((await get(s, `/admin/buyers/${s.botId}/1`)).status, 404);
        await checkConsoleLogin(s);
        checked = true;
      },
    });
    assert.equal(checked, true);
  });
});
