import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBotRepository } from '../../src/db/bot-repository.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createSecretBox } from '../../src/db/secret-box.ts';
import { createSql } from '../../src/db/sql-client.ts';
import type { BotflowError } from '../../src/errors.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

const KEY = '5a'.repeat(32);
const bot = {
  id: 'sealed-bot',
  username: 'sealed_bot',
  token: '7100000009:AAtoken-that-must-not-be-stored-plain',
  webhookSecret: 'webhook-secret-that-must-not-be-stored',
  gateway: {
    kind: 'sandbox' as const,
    api_base: 'http://127.0.0.1:1',
    api_key: 'gateway-api-key-secret',
    webhook_secret: 'gateway-webhook-secret',
  },
  pixel: { pixel_id: '987654321', access_token: 'meta-access-token-secret' },
};

describe('bot repository: secrets at rest', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  });
  after(async () => {
    await db.close();
    await fresh.drop();
  });

  it('with BOTFLOW_SECRET_KEY, no secret is stored in plain text and every one reads back', async () => {
    const repo = createBotRepository(db.orm, createSecretBox(KEY));
    await repo.upsert(bot);
    const [row] = await createSql(db.orm)<Record<string, unknown>>('select * from bots where id = $1', [
      bot.id,
    ]);
    const stored = JSON.stringify(row);
    for (const secret of [
      bot.token,
      bot.webhookSecret,
      bot.gateway.api_key,
      bot.gateway.webhook_secret,
      bot.pixel.access_token,
    ])
      assert.ok(!stored.includes(secret), `${secret} is not stored in plain text`);
    assert.ok(
      stored.includes(bot.pixel.pixel_id) && stored.includes(bot.gateway.api_base),
      'lookup fields stay plain',
    );
    const settings = await repo.settings(bot.id);
    assert.deepEqual(
      {
        token: settings?.token,
        webhookSecret: settings?.webhookSecret,
        gateway: settings?.gateway,
        pixel: settings?.pixel,
      },
      { token: bot.token, webhookSecret: bot.webhookSecret, gateway: bot.gateway, pixel: bot.pixel },
    );
    assert.equal(
      (await repo.settingsByPixel(bot.pixel.pixel_id))?.pixel?.access_token,
      bot.pixel.access_token,
    );
    assert.deepEqual(await repo.secrets(bot.id), { token: bot.token, webhookSecret: bot.webhookSecret });
  });

  it('without the key, sealed secrets are refused with a coded error naming the variable', async () => {
    const repo = createBotRepository(db.orm);
    await assert.rejects(
      repo.settings(bot.id),
      (e: BotflowError) => e.code === 'CONFIG_INVALID' && /BOTFLOW_SECRET_KEY/.test(e.message),
    );
  });

  it('rows written before a key was set still read, and are sealed when saved again', async () => {
    const plain = createBotRepository(db.orm);
    await plain.upsert({
      ...bot,
      id: 'plain-bot',
      username: 'plain_bot',
      pixel: { ...bot.pixel, pixel_id: '111' },
    });
    const sealing = createBotRepository(db.orm, createSecretBox(KEY));
    assert.equal((await sealing.settings('plain-bot'))?.token, bot.token);
    await sealing.upsert({
      ...bot,
      id: 'plain-bot',
      username: 'plain_bot',
      pixel: { ...bot.pixel, pixel_id: '111' },
    });
    const [row] = await createSql(db.orm)<{ token: string }>('select token from bots where id = $1', [
      'plain-bot',
    ]);
    assert.ok(row!.token.startsWith('bf1:'));
  });

  it("bots sharing a pixel: settingsByPixel with a bot gives that bot's token, without one the oldest bot's", async () => {
    const repo = createBotRepository(db.orm, createSecretBox(KEY));
    const shared = (id: string, accessToken: string, pixelId = '202020') =>
      repo.upsert({
        ...bot,
        id,
        username: `${id.replace(/-/g, '_')}_bot`,
        pixel: { pixel_id: pixelId, access_token: accessToken },
      });
    await shared('share-first', 'token-of-first');
    await shared('share-second', 'token-of-second');
    await shared('share-other', 'token-of-other', '303030');
    const tokenFor = async (botId?: string | null) =>
      (await repo.settingsByPixel('202020', botId))?.pixel?.access_token ?? null;
    assert.equal(await tokenFor('share-second'), 'token-of-second');
    assert.equal(await tokenFor('share-first'), 'token-of-first');
    assert.equal(await tokenFor('share-other'), null, 'that bot has another pixel');
    assert.equal(await tokenFor('no-such-bot'), null);
    assert.equal(await tokenFor(null), 'token-of-first');
    assert.equal(await tokenFor(), 'token-of-first');
  });
});
