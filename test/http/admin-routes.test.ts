import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootstrap, type BotflowApp } from '../../src/bootstrap.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const ADMIN = 'admin-token-for-admin-routes-tests';
const BOT_TOKEN = '7800000001:AAadmin-routes-bot-token-xyz';

interface CodedError {
  error: { code: string; message: string; details?: Array<{ path: string; message: string }> };
}

let fresh: FreshDatabase;
let fake: FakeBotApi;
let app: BotflowApp;

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${app.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...init.headers },
  });

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi();
  fake.addBot({ token: BOT_TOKEN, id: 7800000001, username: 'admin_routes_bot' });
  app = await bootstrap({
    env: { DATABASE_URL: fresh.url, BOTFLOW_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent' },
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
  });
  await app.addBot({ id: 'adminbot', token: BOT_TOKEN });
});
after(async () => {
  await app.close();
  await fake.close();
  await fresh.drop();
});

describe('admin query parameters: a bad one is named with its rule', () => {
  const cases: Array<{ path: string; field: string; rule: RegExp }> = [
    { path: '/admin/payments?bot_id=adminbot&limit=-1', field: 'limit', rule: /integer from 1 to 500/ },
    { path: '/admin/payments?bot_id=adminbot&limit=501', field: 'limit', rule: /integer from 1 to 500/ },
    { path: '/admin/payments?bot_id=adminbot&limit=2.5', field: 'limit', rule: /integer from 1 to 500/ },
    { path: '/admin/payments?bot_id=adminbot&limit=many', field: 'limit', rule: /integer from 1 to 500/ },
    { path: '/admin/payments?bot_id=adminbot&limit=1&limit=2', field: 'limit', rule: /given once/ },
    { path: '/admin/payments?bot_id=adminbot&user_id=abc', field: 'user_id', rule: /Telegram user id/ },
    { path: '/admin/payments?bot_id=adminbot&status=lost', field: 'status', rule: /one of pending, paid/ },
    { path: '/admin/payments?bot_id=adminbot&colour=red', field: 'colour', rule: /not a parameter/ },
    { path: '/admin/payments?limit=5', field: 'bot_id', rule: /is required/ },
    { path: '/admin/payments?bot_id=a%20b', field: 'bot_id', rule: /1-64 of A-Za-z0-9_-/ },
    { path: '/admin/tracking-links?bot_id=a%20b', field: 'bot_id', rule: /1-64 of A-Za-z0-9_-/ },
    { path: '/admin/tracking-links?bot_id=a&bot_id=b', field: 'bot_id', rule: /given once/ },
    { path: '/admin/tracking-links?bot=adminbot', field: 'bot', rule: /not a parameter/ },
  ];
  for (const c of cases) {
    it(`${c.path}: 400 naming ${c.field}`, async () => {
      const res = await call(c.path);
      assert.equal(res.status, 400);
      const { error } = (await res.json()) as CodedError;
      assert.equal(error.code, 'BAD_REQUEST');
      assert.match(error.message, new RegExp(`\\b${c.field} `));
      assert.match(error.message, c.rule);
      assert.deepEqual(
        error.details?.map((d) => d.path),
        [c.field],
        'only the bad field is named',
      );
    });
  }

  it('good queries still answer', async () => {
    for (const path of [
      '/admin/payments?bot_id=adminbot',
      '/admin/payments?bot_id=adminbot&limit=500&status=paid&user_id=42',
      '/admin/tracking-links',
      '/admin/tracking-links?bot_id=adminbot',
    ]) {
      assert.equal((await call(path)).status, 200, path);
    }
  });
});

describe('admin flows of any size or depth get a coded answer, never a stack overflow', () => {
  const chain = (n: number) => ({
    id: 'big',
    flow_start_step_id: 's0',
    flow_steps: Array.from({ length: n }, (_, i) =>
      i === n - 1
        ? { id: `s${i}`, type: 'end', config: {} }
        : { id: `s${i}`, type: 'message', config: { text: 'x' }, connections: { next: `s${i + 1}` } },
    ),
  });

  it('validating a 10,000-step flow reports the steps limit', async () => {
    const res = await call('/admin/flows/validate', { method: 'POST', body: JSON.stringify(chain(10_000)) });
    assert.equal(res.status, 200);
    const result = (await res.json()) as { valid: boolean; errors: Array<Record<string, unknown>> };
    assert.equal(result.valid, false);
    assert.deepEqual(result.errors, [
      { code: 'schema', path: '/flow_steps', message: 'a flow has at most 500 steps; this one has 10000' },
    ]);
  });

  it('a draft or a flow nested 100,000 levels deep is a 400, not a 500', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    for (const [path, method, body] of [
      ['/admin/flows/deep', 'PUT', `{"bot_id":"adminbot","definition":${deep}}`],
      ['/admin/flows/validate', 'POST', deep],
    ] as const) {
      const res = await call(path, { method, body });
      assert.equal(res.status, 400, path);
      const { error } = (await res.json()) as CodedError;
      assert.equal(error.code, 'BAD_REQUEST');
      assert.match(error.message, /nests deeper than 64 levels/);
    }
    assert.equal((await call('/admin/flows/deep')).status, 404, 'nothing was saved');
  });
});
