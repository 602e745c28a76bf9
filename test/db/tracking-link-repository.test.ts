import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBotRepository } from '../../src/db/bot-repository.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createTrackingLinkRepository } from '../../src/db/tracking-link-repository.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

describe('tracking link repository: the click-path cache', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  let clock = 1_000_000;

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    await createBotRepository(db.orm).upsert({
      id: 'b',
      username: 'cache_bot',
      token: '1:t',
      webhookSecret: 's',
    });
  });
  after(async () => {
    await db.close();
    await fresh.drop();
  });

  it('serves a found link from memory for cacheMs; a removal here forgets it at once, one elsewhere after cacheMs', async () => {
    const cached = createTrackingLinkRepository(db.orm, { cacheMs: 5000, now: () => clock });
    const other = createTrackingLinkRepository(db.orm);
    await other.add({ slug: 'ad', botId: 'b' });
    assert.equal((await cached.get('ad'))?.botUsername, 'cache_bot');
    await other.remove('ad');
    assert.equal((await cached.get('ad'))?.slug, 'ad', 'another process removed it: still cached');
    clock += 5000;
    assert.equal(await cached.get('ad'), null, 'the cache expired');

    await other.add({ slug: 'ad2', botId: 'b' });
    assert.ok(await cached.get('ad2'));
    await cached.remove('ad2');
    assert.equal(await cached.get('ad2'), null, 'removed here: forgotten at once');

    await other.add({ slug: 'ad3', botId: 'b' });
    assert.ok(await cached.get('ad3'));
    await other.remove('ad3');
    cached.forgetBot('b');
    assert.equal(await cached.get('ad3'), null, 'forgetting the bot drops its links');
  });

  it('does not cache a miss: a link created elsewhere is found at once', async () => {
    const cached = createTrackingLinkRepository(db.orm, { cacheMs: 5000, now: () => clock });
    assert.equal(await cached.get('later'), null);
    await createTrackingLinkRepository(db.orm).add({ slug: 'later', botId: 'b' });
    assert.ok(await cached.get('later'));
  });
});
