/** Bot settings cached per bot for a few seconds; forget drops them at once; failures are not kept. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BotSettings } from '../../src/db/bot-repository.ts';
import { createBotSettingsCache } from '../../src/db/cache-bot-settings.ts';

const bot = (id: string, pixel: BotSettings['pixel'] = null): BotSettings => ({
  id,
  username: `${id}_bot`,
  token: `${id}:token`,
  webhookSecret: 'secret',
  botInfo: null,
  gateway: null,
  pixel,
  joinRequests: true,
});

describe('bot settings cache', () => {
  it('reads a bot once per ttl, again after it or after forget; the pixel comes from the same read', async () => {
    let clock = 1_000;
    const reads: string[] = [];
    const cache = createBotSettingsCache({
      read: async (botId) => {
        reads.push(botId);
        return botId === 'ghost' ? null : bot(botId, { pixel_id: 'px', access_token: 't' });
      },
      now: () => clock,
      ttlMs: 5000,
    });
    assert.equal((await cache.settingsOf('b1'))?.id, 'b1');
    assert.equal((await cache.pixelOf('b1'))?.pixel_id, 'px');
    clock += 4999;
    await cache.settingsOf('b1');
    assert.deepEqual(reads, ['b1'], 'within the ttl: one read');
    clock += 1;
    await cache.settingsOf('b1');
    cache.forget('b1');
    await cache.settingsOf('b1');
    assert.equal(await cache.pixelOf('ghost'), null);
    assert.deepEqual(reads, ['b1', 'b1', 'b1', 'ghost']);
  });

  it('does not keep a failed read: the next call reads again', async () => {
    let fail = true;
    let reads = 0;
    const cache = createBotSettingsCache({
      read: async (botId) => {
        reads += 1;
        if (fail) throw Object.assign(new Error('down'), { code: 'STORE_UNAVAILABLE' });
        return bot(botId);
      },
      now: () => 0,
      ttlMs: 5000,
    });
    await assert.rejects(cache.settingsOf('b1'), { code: 'STORE_UNAVAILABLE' });
    fail = false;
    assert.equal((await cache.settingsOf('b1'))?.id, 'b1');
    assert.equal(reads, 2);
  });
});
