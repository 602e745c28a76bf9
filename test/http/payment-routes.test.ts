import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const TOKEN = '7600000001:AAtest-token-for-the-fake-bot-api';
const SECRET = 'sandbox-secret';

let fresh: FreshDatabase;
let fake: FakeBotApi;
let sandbox: SandboxGateway;
let app: BotflowApp;
let logs = '';

/** A body signed exactly as the sandbox gateway signs its webhooks. */
const signed = (body: string) => {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')}`;
};
const webhook = (botId: string, body: string) =>
  fetch(`${app.url}/payments/${botId}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sandbox-signature': signed(body) },
    body,
  });

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi({ retryBaseMs: 20 });
  fake.addBot({ token: TOKEN, id: 7600000001, username: 'pay_routes_bot' });
  sandbox = await startSandboxGateway({ apiKey: 'k', webhookSecret: SECRET });
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  app = await bootstrap({
    env: {
      DATABASE_URL: fresh.url,
      REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
    },
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: `bf-test-${randomBytes(4).toString('hex')}`,
    logger: createLogger({ level: 'debug', destination }),
  });
  await app.addBot({
    id: 'paybot',
    token: TOKEN,
    gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'k', webhook_secret: SECRET },
  });
});
after(async () => {
  await app.close();
  await Promise.all([fake.close(), sandbox.close()]);
  await fresh.drop();
});

describe('POST /payments/:botId/webhook', () => {
  it('a validly signed webhook for an unknown bot is a coded, logged 404, not a 500', async () => {
    const body = JSON.stringify({
      id: 'evt_1',
      type: 'charge.updated',
      charge_id: 'ch_nope',
      order_id: 'nosuchbot:1:pay:1',
      status: 'paid',
      amount_cents: 2990,
    });
    const res = await webhook('nosuchbot', body);
    assert.equal(res.status, 404);
    const answer = (await res.json()) as { error: { code: string; retryable: boolean } };
    assert.equal(answer.error.code, 'NOT_FOUND');
    assert.equal(answer.error.retryable, false);
    const line = logs
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['msg'] === 'payment webhook refused' && l['bot_id'] === 'nosuchbot');
    assert.equal(line?.['code'], 'NOT_FOUND');
  });

  it('a bot id no bot can have is a 404 too', async () => {
    for (const id of ['a'.repeat(65), 'no%20such', 'x.y']) {
      const res = await webhook(id, '{}');
      assert.equal(res.status, 404, id);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    }
  });

  it("a known bot's webhook for a charge it does not have stays a 404", async () => {
    const body = JSON.stringify({ id: 'evt_2', type: 'charge.updated', charge_id: 'ch_nope' });
    const res = await webhook('paybot', body);
    assert.equal(res.status, 404);
  });
});
