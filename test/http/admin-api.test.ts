import assert from 'node:assert/strict';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { bootstrap, type BotflowApp } from '../../src/bootstrap.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const vip = JSON.parse(
  await readFile(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'),
);
const ADMIN = 'admin-token-0123456789';
let fake: FakeBotApi;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = any;
type JsonResponse = Omit<Response, 'json'> & { json(): Promise<Json> };
const BOT_TOKEN = '123456:AAbbCCddEEffGGhhIIjjKKllMM';

describe('HTTP: admin API, health, metrics, error mapping', () => {
  let fresh: FreshDatabase;
  let app: BotflowApp;
  let logs = '';
  const call = (path: string, init: RequestInit & { auth?: string | null } = {}): Promise<JsonResponse> => {
    const headers = new Headers(init.headers);
    if (init.auth !== null) headers.set('authorization', `Bearer ${init.auth ?? ADMIN}`);
    return fetch(`${app.url}${path}`, { ...init, headers }) as Promise<JsonResponse>;
  };
  const json = (body: unknown) => ({
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

  before(async () => {
    fresh = await createFreshDatabase();
    fake = await startFakeBotApi();
    fake.addBot({ token: BOT_TOKEN, id: 123456, username: 'vip_funnel_bot' });
    const destination = new Writable({
      write(chunk, _enc, done) {
        logs += chunk.toString();
        done();
      },
    });
    app = await bootstrap({
      env: { DATABASE_URL: fresh.url, BOTFLOW_ADMIN_TOKEN: ADMIN },
      config: { telegramApiRoot: fake.url },
      http: { port: 0 },
      timerIntervalMs: 0,
      logger: createLogger({ level: 'debug', destination }),
    });
  });
  after(async () => {
    await app.close();
    await fake.close();
    await fresh.drop();
  });

  it('refuses the admin API without the right bearer token (401), in constant time, without leaking', async () => {
    for (const auth of [null, 'wrong', `${ADMIN}x`]) {
      const res = await call('/admin/bots', { auth });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await res.json()).error.code, 'UNAUTHORIZED');
    }
  });

  it('adds, lists and removes bots; tokens never come back', async () => {
    const created = await call(
      '/admin/bots',
      json({ id: 'bot1', username: 'vip_funnel_bot', token: BOT_TOKEN }),
    );
    assert.equal(created.status, 201);
    const list = await (await call('/admin/bots')).text();
    assert.match(list, /vip_funnel_bot/);
    assert.doesNotMatch(list, /AAbbCC/);
    const bad = await call('/admin/bots', json({ id: 'bot2', username: 'x', token: 'nope' }));
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'BAD_REQUEST');
  });

  it("changes a bot's pixel, gateway or invite links without registering it again (PATCH)", async () => {
    const patch = (id: string, body: unknown) =>
      call(`/admin/bots/${id}`, {
        method: 'PATCH',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const secretBefore = (await app.funnel.bots.settings('bot1'))!.webhookSecret;
    const changed = await patch('bot1', {
      join_requests: false,
      pixel: { pixel_id: '123', access_token: 'meta-token-never-returned', action_source: 'website' },
    });
    assert.equal(changed.status, 200);
    const text = await changed.text();
    assert.doesNotMatch(text, /meta-token-never-returned/);
    assert.equal((JSON.parse(text) as { bot: { joinRequests: boolean } }).bot.joinRequests, false);
    let settings = (await app.funnel.bots.settings('bot1'))!;
    assert.equal(settings.pixel?.action_source, 'website');
    assert.equal(settings.webhookSecret, secretBefore, 'the webhook is left as it was');
    assert.equal((await patch('bot1', { pixel: null, join_requests: true })).status, 200);
    settings = (await app.funnel.bots.settings('bot1'))!;
    assert.equal(settings.pixel, null);
    assert.equal(settings.joinRequests, true);
    const unknown = await patch('nobot', { join_requests: true });
    assert.equal(unknown.status, 404);
    for (const bad of [{}, { token: BOT_TOKEN }, { join_requests: 'yes' }]) {
      const res = await patch('bot1', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal((await res.json()).error.code, 'BAD_REQUEST');
    }
  });

  it('a bot takes join-request invite links unless registered with join_requests: false', async () => {
    const bots = async () =>
      ((await (await call('/admin/bots')).json()) as { bots: Array<{ id: string; joinRequests: boolean }> })
        .bots;
    assert.equal((await bots()).find((b) => b.id === 'bot1')?.joinRequests, true);
    const single = await call(
      '/admin/bots',
      json({
        id: 'bot3',
        username: 'single_use_bot',
        token: BOT_TOKEN,
        join_requests: false,
      }),
    );
    assert.equal(single.status, 201, await single.clone().text());
    assert.equal(((await single.json()) as { bot: { joinRequests: boolean } }).bot.joinRequests, false);
    // Registering again without the field keeps the setting.
    const again = await call(
      '/admin/bots',
      json({ id: 'bot3', username: 'single_use_bot', token: BOT_TOKEN }),
    );
    assert.equal(again.status, 201);
    assert.equal((await bots()).find((b) => b.id === 'bot3')?.joinRequests, false);
    const wrong = await call(
      '/admin/bots',
      json({ id: 'bot4', username: 'wrong_type_bot', token: BOT_TOKEN, join_requests: 'no' }),
    );
    assert.equal(wrong.status, 400);
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
    assert.equal((await call('/admin/bots/bot3', { method: 'DELETE' })).status, 204);
  });

  it('saves a draft, validates, publishes immutable versions, lists them', async () => {
    const draft = await call('/admin/flows/vip-funnel', {
      ...json({ bot_id: 'bot1', definition: vip }),
      method: 'PUT',
    });
    assert.equal(draft.status, 200);
    assert.equal((await draft.json()).validation.valid, true);
    const invalid = await (
      await call('/admin/flows/validate', json({ ...vip, flow_start_step_id: 'x' }))
    ).json();
    assert.equal(invalid.valid, false);
    assert.equal(invalid.errors[0].code, 'missing_start_step');
    assert.equal((await call('/admin/flows/vip-funnel/publish', { method: 'POST' })).status, 201);
    assert.equal((await call('/admin/flows/vip-funnel/publish', { method: 'POST' })).status, 201);
    const versions = (await (await call('/admin/flows/vip-funnel/versions')).json()).versions;
    assert.deepEqual(
      versions.map((v: { version: number }) => v.version),
      [1, 2],
    );
  });

  it('publishing an invalid draft is refused with 422 INVALID_FLOW and every problem', async () => {
    await call('/admin/flows/broken', {
      ...json({ bot_id: 'bot1', definition: { id: 'broken', flow_steps: [] } }),
      method: 'PUT',
    });
    const res = await call('/admin/flows/broken/publish', { method: 'POST' });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.error.code, 'INVALID_FLOW');
    assert.deepEqual(
      body.error.details.map((d: { code: string; path: string }) => [d.code, d.path]),
      [
        ['schema', '/flow_start_step_id'],
        ['schema', '/flow_steps'],
      ],
      'every problem of the draft',
    );
  });

  it('inspects a conversation: step, version, pending timers', async () => {
    // A real (sandbox) gateway: without one the charge fails at once and payment.create_failed moves
    // the buyer back to the offers while this test reads (a race that made it flaky).
    const sandbox = await startSandboxGateway({ apiKey: 'k', webhookSecret: 'sandbox-secret' });
    after(() => sandbox.close());
    const gateway = {
      kind: 'sandbox',
      api_base: sandbox.url,
      api_key: 'k',
      webhook_secret: 'sandbox-secret',
    };
    const patched = await call('/admin/bots/bot1', {
      method: 'PATCH',
      body: JSON.stringify({ gateway }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(patched.status, 200);
    await app.inject('bot1', '77', { type: 'start' });
    await app.inject('bot1', '77', { type: 'text', text: 'a@b.co' });
    await app.inject('bot1', '77', { type: 'click', step: 'offers', index: 0 });
    await app.effects.idle(); // the charge is created (payment.created keeps the buyer at pay)
    const body = await (await call('/admin/bots/bot1/conversations/77')).json();
    assert.equal(body.current_step, 'pay');
    assert.equal(body.flow_version, 2);
    assert.deepEqual(
      body.timers.map((t: { timer_id: string }) => t.timer_id),
      ['xstate.after.elapsed_pay_0.vip-funnel.pay'],
    );
    assert.equal((await call('/admin/bots/bot1/conversations/78')).status, 404);
  });

  it('malformed and oversized bodies get 4xx and the server stays up', async () => {
    const broken = await call('/admin/bots', {
      method: 'POST',
      body: '{"id": ',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(broken.status, 400);
    assert.equal((await broken.json()).error.code, 'INVALID_JSON');
    const huge = await call('/admin/flows/validate', { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    assert.equal((await call('/healthz', { auth: null })).status, 200);
    assert.equal((await call('/nowhere', { auth: null })).status, 404);
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    assert.deepEqual(await (await call('/readyz', { auth: null })).json(), { status: 'ready' });
    const metrics = await (await call('/metrics', { auth: null })).text();
    assert.match(metrics, /botflow_transitions_total \d+/);
    assert.match(metrics, /botflow_commit_batch_size_bucket/);
    assert.match(metrics, /botflow_http_requests_total\{route="\/admin\/bots"/);
  });

  it('never logs the admin token or a bot token', () => {
    assert.ok(logs.length > 0, 'something was logged');
    const eventLines = logs
      .split('\n')
      .filter((l) => l.includes('"msg":"event"'))
      .map((l) => JSON.parse(l));
    assert.ok(
      eventLines.some(
        (l) =>
          l.bot_id === 'bot1' &&
          l.user_id === '77' &&
          l.step_id === 'pay' &&
          l.event === 'click' &&
          l.duration_ms >= 0,
      ),
      'flow events are logged with bot, user, step, event and duration',
    );
    assert.doesNotMatch(logs, new RegExp(ADMIN));
    assert.doesNotMatch(logs, /AAbbCCdd/);
  });
});
