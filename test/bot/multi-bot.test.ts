import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const BOTS = [1, 2, 3].map((k) => ({
  id: `multi-${k}`,
  token: `71000001${k}0:AAmulti-bot-token-${k}`,
  telegramId: Number(`71000001${k}0`),
  username: `multi_${k}_bot`,
}));
const USERS = [4101, 4102, 4103, 4104];

/** A short flow whose every text names its bot, so a message sent by the wrong bot shows. */
const flowOf = (k: number) => ({
  id: `multi-flow-${k}`,
  flow_start_step_id: 'hello',
  flow_steps: [
    { id: 'hello', type: 'message', config: { text: `Olá do bot ${k}` }, connections: { next: 'ask' } },
    {
      id: 'ask',
      type: 'input',
      config: { text: `Bot ${k}: seu e-mail?` },
      conditions: [{ type: 'text_validation', validation: 'email', target_step: 'done' }],
    },
    { id: 'done', type: 'end', config: { text: `Bot ${k}: obrigado` } },
  ],
});

let fresh: FreshDatabase;
let fake: FakeBotApi;
let app: BotflowApp;

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi({ retryBaseMs: 20 });
  for (const bot of BOTS) fake.addBot({ token: bot.token, id: bot.telegramId, username: bot.username });
  app = await bootstrap({
    env: {
      DATABASE_URL: fresh.url,
      REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'silent',
    },
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: `bf-test-${randomBytes(4).toString('hex')}`,
  });
  for (const [i, bot] of BOTS.entries()) {
    await app.addBot({ id: bot.id, token: bot.token });
    await app.publishFlow(bot.id, flowOf(i + 1));
  }
});
after(async () => {
  await app.close();
  await fake.close();
  await fresh.drop();
});

/** Texts one bot sent to one chat, in order. */
const textsTo = (token: string, chat: number) =>
  fake
    .callsOf(token, 'sendMessage')
    .filter((c) => Number(c.params['chat_id']) === chat)
    .map((c) => String(c.params['text']));

const message = (user: number, text: string) => ({
  message: {
    message_id: 1,
    date: 1,
    chat: { id: user, type: 'private' },
    from: { id: user, is_bot: false, first_name: 'M' },
    text,
  },
});

describe('several bots on one deployment, over webhooks pushed by the fake Bot API', () => {
  it('each bot registered its own webhook with its own secret', () => {
    const hooks = BOTS.map((bot) => fake.callsOf(bot.token, 'setWebhook').at(-1)!.params);
    assert.deepEqual(
      hooks.map((h) => h['url']),
      BOTS.map((bot) => `${app.url}/telegram/${bot.id}`),
    );
    assert.equal(new Set(hooks.map((h) => h['secret_token'])).size, BOTS.length, 'one secret per bot');
  });

  it('the same users walk every bot at once: each conversation is its own, and each bot answers only its own', async () => {
    for (const bot of BOTS) for (const user of USERS) fake.pushUpdate(bot.token, message(user, '/start'));
    await fake.settled();
    await app.effects.idle();
    for (const bot of BOTS)
      for (const user of USERS) fake.pushUpdate(bot.token, message(user, `u${user}@example.com`));
    await fake.settled();
    await app.effects.idle();

    for (const [i, bot] of BOTS.entries()) {
      const k = i + 1;
      for (const user of USERS) {
        assert.deepEqual(
          textsTo(bot.token, user),
          [`Olá do bot ${k}`, `Bot ${k}: seu e-mail?`, `Bot ${k}: obrigado`],
          `bot ${k} → user ${user}`,
        );
        const stored = await app.store.load(bot.id, String(user));
        assert.equal(stored?.rowVersion, 2, `bot ${k} / user ${user}: /start and the e-mail, once each`);
      }
    }
    const accepted = fake.deliveries.filter((d) => d.status === 200).length;
    assert.equal(
      accepted,
      BOTS.length * USERS.length * 2,
      'every pushed update was accepted on first delivery',
    );
  });
});
