import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Api } from 'grammy';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { startPolling } from '../../src/bot/poll-updates.ts';
import { BotflowError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { ALLOWED_UPDATES } from '../../src/telegram/allowed-updates.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait-for.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let nextBot = 7200000001;
function addBot(fake: FakeBotApi): { token: string; api: Api } {
  const id = nextBot++;
  const token = `${id}:AApolling-test-token-${id}`;
  fake.addBot({ token, id, username: `poll_${id}_bot` });
  return { token, api: new Api(token, { apiRoot: fake.url }) };
}

const message = (userId: number, text: string) => ({
  message: {
    message_id: 1,
    date: 1,
    chat: { id: userId, type: 'private' },
    from: { id: userId, is_bot: false, first_name: 'T' },
    text,
  },
});

function captureLogs() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('startPolling against the fake Bot API', () => {
  let fake: FakeBotApi;
  before(async () => {
    fake = await startFakeBotApi({ maxPollMs: 60_000 });
  });
  after(() => fake.close());

  it('deletes the webhook, handles updates in order, retries a retryable failure, skips a refused update', async () => {
    const { token } = addBot(fake);
    const { lines, logger } = captureLogs();
    const ids = [
      fake.pushUpdate(token, message(1, 'a')),
      fake.pushUpdate(token, message(1, 'b')),
      fake.pushUpdate(token, message(1, 'c')),
    ];
    const handled: number[] = [];
    let failed = false;
    const polling = await startPolling({
      apiRoot: fake.url,
      listBots: async () => [{ id: 'a', token }],
      logger,
      timeoutSeconds: 1,
      retryBaseMs: 10,
      async handle(botId, update) {
        assert.equal(botId, 'a');
        const id = (update as { update_id: number }).update_id;
        handled.push(id);
        if (id === ids[1] && !failed) {
          failed = true;
          throw new BotflowError('STORE_UNAVAILABLE', 'database down');
        }
        if (id === ids[2]) throw new BotflowError('BAD_REQUEST', 'not an update');
      },
    });
    try {
      await waitFor('every update confirmed', () =>
        fake.callsOf(token, 'getUpdates').some((c) => Number(c.params['offset']) > ids[2]!),
      );
      assert.deepEqual(handled, [ids[0], ids[1], ids[1], ids[2]]);
      const [first] = fake.calls.filter((c) => c.token === token);
      assert.equal(first?.method, 'deleteWebhook');
      assert.equal(first?.params['drop_pending_updates'], undefined, 'pending updates are kept');
      const poll = fake.callsOf(token, 'getUpdates')[0]!;
      assert.deepEqual(poll.params['allowed_updates'], [...ALLOWED_UPDATES]);
      const text = lines.join('');
      assert.match(text, /"code":"STORE_UNAVAILABLE".*update failed; retrying it/);
      assert.match(text, /"code":"BAD_REQUEST".*update refused; skipped/);
      assert.doesNotMatch(text, new RegExp(token.split(':')[1]!), 'the token is never logged');
    } finally {
      await polling.stop();
    }
  });

  it('logs a 409 with a coded message, backs off from Bot API errors, and resumes', async () => {
    const { token, api } = addBot(fake);
    const { lines, logger } = captureLogs();
    const handled: number[] = [];
    fake.injectError({ status: 502, method: 'getUpdates', token, times: 2 });
    const polling = await startPolling({
      apiRoot: fake.url,
      listBots: async () => [{ id: 'b', token }],
      logger,
      timeoutSeconds: 1,
      retryBaseMs: 10,
      handle: async (_botId, update) => void handled.push((update as { update_id: number }).update_id),
    });
    try {
      const first = fake.pushUpdate(token, message(2, 'x'));
      await waitFor('the update after two 502s', () => handled.includes(first));
      assert.equal(fake.callsOf(token, 'getUpdates').filter((c) => c.status === 502).length, 2);
      assert.match(lines.join(''), /"code":"UPSTREAM_FAILED","error_code":502/);

      await api.setWebhook('https://example.com/hook'); // another deployment takes the bot over
      await waitFor('the 409 logged', () => lines.join('').includes('"code":"CONFLICT"'));
      assert.match(lines.join(''), /only one botflow may poll a bot/);
      await api.deleteWebhook();
      const second = fake.pushUpdate(token, message(2, 'y'));
      await waitFor('the update after the conflict', () => handled.includes(second));
      assert.deepEqual(handled, [first, second]);
    } finally {
      await polling.stop();
    }
  });

  it('survives a network outage and resumes when the Bot API is reachable again', async () => {
    const { token } = addBot(fake);
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(fake.url).port) });
    const { lines, logger } = captureLogs();
    const handled: number[] = [];
    proxy.cut();
    const polling = await startPolling({
      apiRoot: `http://127.0.0.1:${proxy.port}`,
      listBots: async () => [{ id: 'c', token }],
      logger,
      timeoutSeconds: 1,
      retryBaseMs: 10,
      maxRetryMs: 50,
      handle: async (_botId, update) => void handled.push((update as { update_id: number }).update_id),
    });
    try {
      await waitFor('retries', () => lines.filter((l) => l.includes('did not answer')).length >= 2);
      assert.match(lines.join(''), /"code":"UPSTREAM_FAILED"/);
      proxy.restore();
      const id = fake.pushUpdate(token, message(3, 'z'));
      await waitFor('the update after the outage', () => handled.includes(id));
    } finally {
      await polling.stop();
      await proxy.close();
    }
  });

  it('stop() aborts an idle long poll and starts no further polls', { timeout: 20_000 }, async () => {
    const { token } = addBot(fake);
    const polling = await startPolling({
      apiRoot: fake.url,
      listBots: async () => [{ id: 'd', token }],
      logger: captureLogs().logger,
      timeoutSeconds: 50, // the fake holds it for 50 s: only an abort ends it sooner
      handle: async () => {},
    });
    await waitFor('a waiting long poll', () => fake.callsOf(token, 'getUpdates').some((c) => c.status === 0));
    await polling.stop();
    const polls = fake.callsOf(token, 'getUpdates').length;
    await sleep(50);
    assert.equal(fake.callsOf(token, 'getUpdates').length, polls);
  });

  it('stop() waits for the update being handled, confirms it, and leaves later ones with Telegram', async () => {
    const { token, api } = addBot(fake);
    let release = () => {};
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const handled: number[] = [];
    const polling = await startPolling({
      apiRoot: fake.url,
      listBots: async () => [{ id: 'e', token }],
      logger: captureLogs().logger,
      timeoutSeconds: 50,
      async handle(_botId, update) {
        handled.push((update as { update_id: number }).update_id);
        await blocked;
      },
    });
    const first = fake.pushUpdate(token, message(4, 'first'));
    await waitFor('the first update being handled', () => handled.length === 1);
    const second = fake.pushUpdate(token, message(4, 'second'));
    let stopped = false;
    const stopping = polling.stop().then(() => (stopped = true));
    for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop waits for the update in hand');
    release();
    await stopping;
    assert.deepEqual(handled, [first]);
    const left = await api.getUpdates({ timeout: 0 });
    assert.deepEqual(
      left.map((u) => u.update_id),
      [second],
      'the handled update was confirmed; the unhandled one stays',
    );
  });
});

describe('bootstrap with polling', () => {
  let fresh: FreshDatabase;
  let fake: FakeBotApi;
  let app: BotflowApp;
  let token: string;
  const logs = captureLogs();
  const start = () =>
    bootstrap({
      env: { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent' },
      config: { telegramApiRoot: fake.url },
      http: { port: 0 },
      timerIntervalMs: 0,
      jobsIntervalMs: 0,
      polling: { timeoutSeconds: 1, retryBaseMs: 20 },
      logger: logs.logger,
    });
  const welcomes = (userId: number) =>
    fake
      .callsOf(token)
      .filter(
        (c) =>
          Number(c.params['chat_id']) === userId &&
          /e-?mail/i.test(String(c.params['text'] ?? c.params['caption'])),
      );
  const rowVersion = async (userId: number) =>
    (await app.store.load('pbot', String(userId)))?.rowVersion ?? 0;

  before(async () => {
    fresh = await createFreshDatabase();
    fake = await startFakeBotApi();
    token = addBot(fake).token;
    app = await start();
    await app.addBot({ id: 'pbot', token });
    await app.publishFlow('pbot', vip);
  });
  after(async () => {
    await app.close();
    await fake.close();
    await fresh.drop();
  });

  it('polls a bot added while running instead of setting its webhook', async () => {
    assert.equal(fake.callsOf(token, 'setWebhook').length, 0);
    assert.equal(fake.callsOf(token, 'deleteWebhook').length, 1);
    await waitFor('a long poll', () => fake.callsOf(token, 'getUpdates').length > 0);
  });

  it("a user's /start produces the flow's first message", async () => {
    fake.pushUpdate(token, message(601, '/start'));
    await waitFor('the first message at the fake', () => welcomes(601).length === 1);
    assert.equal(await rowVersion(601), 1);
  });

  it('an update delivered twice is processed once', async () => {
    const update = message(602, '/start');
    const id = fake.pushUpdate(token, update);
    fake.pushUpdate(token, { update_id: id, ...update }); // Telegram delivering it again
    await waitFor('both copies handled', () =>
      fake.callsOf(token, 'getUpdates').some((c) => Number(c.params['offset']) > id),
    );
    await app.effects.idle();
    const events = logs.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'event' && l['user_id'] === '602');
    assert.deepEqual(
      events.map((e) => e['applied']),
      [true, false],
      'both copies reached the conversation; the second changed nothing',
    );
    assert.equal(await rowVersion(602), 1);
    assert.equal(welcomes(602).length, 1);
  });

  it('after a restart, polls the registered bots and loses nothing sent while down', async () => {
    await app.close();
    fake.pushUpdate(token, message(603, '/start'));
    app = await start();
    assert.ok(app.polling !== undefined);
    await waitFor('the update sent while down', () => welcomes(603).length === 1);
    assert.equal(await rowVersion(603), 1);
  });
});
