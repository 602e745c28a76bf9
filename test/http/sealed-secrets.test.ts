import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));
const TOKEN = '7400000001:AAsealed-token-never-stored-plain';

let fresh: FreshDatabase;
let fake: FakeBotApi;
let app: BotflowApp;

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi({ retryBaseMs: 20 });
  fake.addBot({ token: TOKEN, id: 7400000001, username: 'sealed_test_bot' });
  app = await bootstrap({
    env: {
      DATABASE_URL: fresh.url,
      REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'silent',
      BOTFLOW_SECRET_KEY: randomBytes(32).toString('hex'),
    },
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: `bf-test-${randomBytes(4).toString('hex')}`,
  });
  await app.addBot({
    id: 'sealed',
    token: TOKEN,
    pixel: { pixel_id: '55501', access_token: 'meta-secret-xyz' },
  });
  await app.publishFlow('sealed', vip);
});
after(async () => {
  await app.close();
  await fake.close();
  await fresh.drop();
});

describe('BOTFLOW_SECRET_KEY set: a whole round trip with sealed secrets', () => {
  it('stores no secret in plain text, yet the webhook secret checks and the bot token sends', async () => {
    const [row] = await createSql(app.db.orm)<Record<string, unknown>>('select * from bots where id = $1', [
      'sealed',
    ]);
    const stored = JSON.stringify(row);
    const webhookSecret = String(fake.callsOf(TOKEN, 'setWebhook').at(-1)!.params['secret_token']);
    for (const secret of [TOKEN, webhookSecret, 'meta-secret-xyz']) assert.ok(!stored.includes(secret));

    fake.pushUpdate(TOKEN, {
      message: {
        message_id: 1,
        date: 1,
        chat: { id: 4201, type: 'private' },
        from: { id: 4201, is_bot: false, first_name: 'S' },
        text: '/start',
      },
    });
    await fake.settled();
    await app.effects.idle();
    assert.deepEqual(
      fake.deliveries.map((d) => d.status),
      [200],
      'the webhook secret opened from the sealed row matched',
    );
    assert.ok(
      fake.callsOf(TOKEN).some((c) => c.method.startsWith('send') && Number(c.params['chat_id']) === 4201),
      'the bot answered with its opened token',
    );
  });

  it('a gateway and pixel changed later (PATCH) are sealed too, and open again for use', async () => {
    const updated = await app.funnel.bots.update('sealed', {
      gateway: { kind: 'pushinpay', token: 'pp-secret-token', webhook_token: 'pp-hook-secret' },
      pixel: { pixel_id: '55502', access_token: 'meta-secret-rotated' },
    });
    assert.equal(updated?.id, 'sealed');
    const [row] = await createSql(app.db.orm)<Record<string, unknown>>('select * from bots where id = $1', [
      'sealed',
    ]);
    const stored = JSON.stringify(row);
    for (const secret of ['pp-secret-token', 'pp-hook-secret', 'meta-secret-rotated'])
      assert.ok(!stored.includes(secret), `${secret} is not stored in plain text`);
    const settings = await app.funnel.bots.settings('sealed');
    assert.deepEqual(settings?.gateway, {
      kind: 'pushinpay',
      token: 'pp-secret-token',
      webhook_token: 'pp-hook-secret',
    });
    assert.equal(settings?.pixel?.access_token, 'meta-secret-rotated');
  });
});
