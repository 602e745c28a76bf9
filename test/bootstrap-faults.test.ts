import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type BootstrapOptions, type BotflowApp, bootstrap } from '../src/bootstrap.ts';
import { SHARD_COUNT, shardOf } from '../src/runtime/shard.ts';
import type { KeyedEffect } from '../src/runtime/conversation-host.ts';
import { type FakeBotApi, startFakeBotApi } from '../src/sim/fake-bot-api.ts';
import { type SandboxGateway, startSandboxGateway } from '../src/sim/sandbox-gateway.ts';
import { encodeCallbackData } from '../src/telegram/callback-data.ts';
import { createFreshDatabase, type FreshDatabase } from './db/fresh-database.ts';
import { quickBuyFlow } from './support/funnel-harness.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { waitFor } from './support/wait-for.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const BOT = 'outage';
const TOKEN = '7300000001:AAoutage-token-for-the-fake-bot-api';
const BUYERS = Array.from({ length: 6 }, (_, i) => 5100 + i);
const NEWCOMERS = Array.from({ length: 6 }, (_, i) => 5200 + i);

describe('bootstrap across a Postgres outage (no restart)', () => {
  let fresh: FreshDatabase;
  let proxy: TcpProxy;
  let fake: FakeBotApi;
  let sandbox: SandboxGateway;
  let app: BotflowApp;
  let direct: pg.Client;
  const events: string[] = [];

  before(async () => {
    fresh = await createFreshDatabase();
    const target = new URL(fresh.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(fresh.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    fake = await startFakeBotApi({ retryBaseMs: 20 });
    fake.addBot({ token: TOKEN, id: 7300000001, username: 'outage_bot' });
    sandbox = await startSandboxGateway({ apiKey: 'k', webhookSecret: 'sandbox-secret', retryBaseMs: 20 });
    app = await bootstrap({
      env: { DATABASE_URL: viaProxy.toString(), REDIS_URL: REDIS, LOG_LEVEL: 'silent' },
      config: { telegramApiRoot: fake.url },
      redisPrefix: `bf-test-outage-${process.pid}`,
      http: { port: 0 },
      timerIntervalMs: 0,
      jobsIntervalMs: 0,
      outboxSweepMs: 1000,
      // Attempts that run out within the outage: an outage must not count against them.
      effectRetry: { baseMs: 50, maxMs: 400, maxAttempts: 4 },
      onDispatched: (input) => events.push(input.event?.type ?? 'effects'),
    });
    await app.addBot({
      id: BOT,
      token: TOKEN,
      gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'k', webhook_secret: 'sandbox-secret' },
    });
    await app.publishFlow(BOT, quickBuyFlow);
    direct = new pg.Client({ connectionString: fresh.url });
    await direct.connect();
  });

  after(async () => {
    await direct.end();
    await app.close();
    await Promise.all([fake.close(), sandbox.close(), proxy.close()]);
    await fresh.drop();
  });

  /** Posts an update to the bot's webhook the way Telegram does; resolves with the HTTP status. */
  async function post(update: Record<string, unknown>): Promise<number> {
    const secret = (await app.funnel.settingsOf(BOT))!.webhookSecret;
    const res = await fetch(`${app.url}/telegram/${BOT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify(update),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** The messages the fake Bot API delivered, as `method chat text` lines. */
  const sends = () =>
    fake
      .callsOf(TOKEN)
      .filter((c) => (c.method === 'sendMessage' || c.method === 'sendPhoto') && c.status === 200)
      .map(
        (c) =>
          `${c.method} ${String(c.params['chat_id'])} ${String(c.params['text'] ?? c.params['caption'])}`,
      );

  const from = (user: number) => ({ id: user, is_bot: false, first_name: 'Ana' });
  const start = (updateId: number, user: number) => ({
    update_id: updateId,
    message: {
      message_id: 1,
      date: 1,
      chat: { id: user, type: 'private' },
      from: from(user),
      text: '/start',
    },
  });
  const buy = (updateId: number, user: number) => ({
    update_id: updateId,
    callback_query: {
      id: `q${user}`,
      from: from(user),
      chat_instance: String(user),
      data: encodeCallbackData({ version: 1, step: 'offers', index: 0 }),
    },
  });

  it('runs every committed effect once after Postgres comes back: each PIX sent once, none dead', async () => {
    let updateId = 1;
    for (const user of BUYERS) assert.equal(await post(start(updateId++, user)), 200);
    await waitFor('every offer sent', () => sends().length === BUYERS.length);

    // Postgres goes while effects are in flight: the newcomers' offers are being sent (slow Telegram),
    // so they finish done but cannot be recorded; the buyers' charges are being created (the gateway
    // answers only once Postgres is gone), so recording each charge fails.
    fake.setLatency(1000);
    let held = 0;
    let cut = () => {};
    const wasCut = new Promise<void>((r) => (cut = r));
    sandbox.onCreate(async () => {
      held += 1;
      await wasCut;
      await new Promise((r) => setTimeout(r, 300));
    });
    const posted = Promise.all([
      ...NEWCOMERS.map((user) => post(start(updateId++, user))),
      ...BUYERS.map((user) => post(buy(updateId++, user))),
    ]);
    const inFlight = () => fake.callsOf(TOKEN, 'sendMessage').filter((c) => c.status === 0).length;
    await waitFor(
      'offers in flight and charges held',
      () => inFlight() === NEWCOMERS.length && held === BUYERS.length,
    );
    proxy.cut();
    cut();
    assert.deepEqual(new Set(await posted), new Set([200]), 'every update was committed before the cut');
    await new Promise((r) => setTimeout(r, 5000));
    proxy.restore();
    fake.setLatency(0);
    sandbox.onCreate(null);

    const settled = await waitFor(
      'every effect done after the outage',
      async () => {
        const rows = await direct.query<{ status: string; n: number }>(
          `select status, count(*)::int as n from effects group by status order by status`,
        );
        const pending = rows.rows.filter((r) => r.status !== 'done');
        return pending.length === 0 ? rows.rows : null;
      },
      30_000,
      100,
    );
    assert.deepEqual(
      settled.map((r) => r.status),
      ['done'],
    );
    await app.effects.idle();
    const pix = sends().filter((s) => s.startsWith('sendPhoto'));
    assert.deepEqual(
      pix.map((s) => s.split(' ')[1]).sort(),
      BUYERS.map(String).sort(),
      'every buyer got exactly one PIX message',
    );
    const counts = new Map<string, number>();
    for (const s of sends()) counts.set(s, (counts.get(s) ?? 0) + 1);
    assert.deepEqual(
      [...counts].filter(([, n]) => n > 1),
      [],
      'no message was sent twice',
    );
    assert.equal(sends().length, BUYERS.length * 2 + NEWCOMERS.length, 'and none was lost');
    assert.ok(!events.includes('payment.create_failed'), 'no charge was given up');
    const charges = await direct.query<{ n: number }>(
      `select count(distinct gateway_charge_id)::int as n from payments where gateway_charge_id is not null`,
    );
    assert.equal(charges.rows[0]!.n, BUYERS.length, 'one charge per buyer');
  });
});

describe('bootstrap after a crash, as a cluster of two workers', () => {
  let fresh: FreshDatabase;
  before(async () => {
    fresh = await createFreshDatabase();
  });
  after(() => fresh.drop());

  it('re-sends an effect that was sent but not recorded once, by the owner of its shard only', async () => {
    const env = { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent', TELEGRAM_API_ROOT: 'http://127.0.0.1:9' };
    const ran: string[] = [];
    const recording = (worker: string) => ({
      send: async (e: KeyedEffect) => {
        ran.push(`${worker} ${e.key}`);
        return null;
      },
    });
    const first = await bootstrap({
      env,
      effectHandlers: recording('first'),
      timerIntervalMs: 0,
      http: false,
    });
    await first.addBot({ id: 'crashbot', username: 'crash_bot', token: '123:secret' });
    await first.publishFlow('crashbot', quickBuyFlow);
    const users = ['801', '802', '803', '804'];
    for (const user of users) await first.inject('crashbot', user, { type: 'start' }, `tg:${user}`);
    await first.effects.idle();
    await first.close();
    const sentOnce = [...ran];
    assert.equal(sentOnce.length, users.length);
    // The crash: the offers went out, but their done-marks never reached the outbox.
    const direct = new pg.Client({ connectionString: fresh.url });
    await direct.connect();
    await direct.query(`update effects set status = 'pending'`);

    // Both workers of the restarted cluster start, then take their halves of the shards.
    const workers = await Promise.all(
      ['w0', 'w1'].map((id) =>
        bootstrap({
          env,
          effectHandlers: recording(id),
          timerIntervalMs: 0,
          http: false,
          ownAllShards: false,
          workerId: id,
        }),
      ),
    );
    try {
      await Promise.all(
        workers.map((w, slot) =>
          w.setOwnedShards(Array.from({ length: SHARD_COUNT }, (_, s) => s).filter((s) => s % 2 === slot)),
        ),
      );
      await waitFor(
        'every effect done again',
        async () => (await direct.query(`select 1 from effects where status <> 'done'`)).rows.length === 0,
        15_000,
        100,
      );
      const resent = ran.slice(sentOnce.length);
      assert.equal(resent.length, users.length, `each re-sent once: ${resent.join(', ')}`);
      for (const line of resent) {
        const [worker, key] = line.split(' ') as [string, string];
        const user = key.split(':')[1]!;
        const owner = shardOf('crashbot', user) % 2 === 0 ? 'w0' : 'w1';
        assert.equal(worker, owner, `${key} ran at the owner of its shard`);
      }
    } finally {
      await direct.end();
      await Promise.all(workers.map((w) => w.close()));
    }
  });
});

describe('a join request committed, then the process stopped before approving it', () => {
  let fresh: FreshDatabase;
  let fake: FakeBotApi;
  before(async () => {
    fresh = await createFreshDatabase();
    fake = await startFakeBotApi({ retryBaseMs: 20 });
  });
  after(async () => {
    await fake.close();
    await fresh.drop();
  });

  it('the next start approves it, once', async () => {
    const token = '7300000002:AAkill-token-for-the-fake-bot-api';
    const chat = -1001234500000;
    const link = 'https://t.me/+killed-before-approval';
    fake.addBot({ token, id: 7300000002, username: 'kill_bot' });
    const start = (effectHandlers?: BootstrapOptions['effectHandlers']) =>
      bootstrap({
        env: { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent' },
        config: { telegramApiRoot: fake.url },
        http: { port: 0 },
        timerIntervalMs: 0,
        jobsIntervalMs: 0,
        drainTimeoutMs: 200,
        ...(effectHandlers === undefined ? {} : { effectHandlers }),
      });
    // The first process dies with the approval committed but not yet sent: its call never leaves.
    let reached = false;
    const first = await start({
      approveJoin: () => {
        reached = true;
        return new Promise<never>(() => {});
      },
    });
    await first.addBot({ id: 'killbot', username: 'kill_bot', token });
    await first.publishFlow('killbot', quickBuyFlow);
    await first.funnel.access.open({
      orderId: 'o-kill',
      botId: 'killbot',
      userId: '6001',
      chatId: String(chat),
      linkName: 'bf-kill',
      expiresAt: null,
    });
    await first.funnel.access.setLink('o-kill', link);
    const secret = (await first.funnel.settingsOf('killbot'))!.webhookSecret;
    const answered = await fetch(`${first.url}/telegram/killbot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify({
        update_id: 1,
        chat_join_request: {
          chat: { id: chat, type: 'supergroup', title: 'VIP' },
          from: { id: 6001, is_bot: false, first_name: 'K' },
          user_chat_id: 6001,
          date: 1,
          invite_link: { invite_link: link, name: 'bf-kill', creates_join_request: true },
        },
      }),
    });
    assert.equal(answered.status, 200, 'answered once committed');
    await waitFor('the approval to start running', () => reached);
    await first.close();
    const approvals = () => fake.callsOf(token, 'approveChatJoinRequest');
    assert.equal(approvals().length, 0, 'nothing reached Telegram before the stop');
    const direct = new pg.Client({ connectionString: fresh.url });
    await direct.connect();
    const statusOf = async () =>
      (await direct.query(`select status from effects where effect->>'type' = 'approveJoin'`)).rows;
    try {
      assert.deepEqual(await statusOf(), [{ status: 'pending' }]);
      const second = await start();
      try {
        await waitFor('the approval', () => approvals().some((c) => c.status === 200));
        await second.effects.idle();
        await waitFor('the approval recorded', async () => (await statusOf())[0]?.status === 'done');
        assert.deepEqual(
          approvals().map((c) => [c.status, Number(c.params['chat_id']), Number(c.params['user_id'])]),
          [[200, chat, 6001]],
        );
      } finally {
        await second.close();
      }
    } finally {
      await direct.end();
    }
  });
});
