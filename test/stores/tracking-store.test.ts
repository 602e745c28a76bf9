import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BotflowError } from '../../src/errors.ts';
import { createKeys } from '../../src/stores/keys.ts';
import {
  createMemoryTrackingStore,
  createRedisTrackingStore,
  type TrackingStore,
} from '../../src/stores/tracking-store.ts';
import type { ClickPayload } from '../../src/tracking/click.ts';

const REDIS_URL = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const token = () => randomBytes(16).toString('hex');
const click = (fbclid?: string): ClickPayload => ({
  bot_id: 'b1',
  slug: 'promo',
  created_at: 1,
  ...(fbclid ? { fbclid, fbc: `fb.1.1.${fbclid}` } : {}),
  fbp: 'fb.1.1.1234567890',
});

/** The contract every tracking store keeps. */
function contract(name: string, make: () => TrackingStore) {
  describe(`tracking store: ${name}`, () => {
    const store = make();
    after(() => store.close());

    it('stores a click under its token, a 500-character fbclid whole', async () => {
      const fbclid = `IwAR${'z'.repeat(496)}`;
      const t = token();
      await store.saveClick(t, click(fbclid), 600);
      const back = await store.getClick(t);
      assert.equal(back?.fbclid, fbclid);
      assert.equal(back?.fbclid?.length, 500);
    });

    it('the fbclid index holds the token; a newer click for the same fbclid takes it over', async () => {
      const fbclid = `fb-${token()}`;
      const first = token();
      const second = token();
      await store.saveClick(first, click(fbclid), 600);
      assert.equal(await store.getTokenByFbclid(fbclid), first);
      await store.saveClick(second, click(fbclid), 600);
      assert.equal(await store.getTokenByFbclid(fbclid), second);
    });

    it("the chat index holds the right token, and a returning user's binding is updated", async () => {
      const [a, b] = [token(), token()];
      await store.bindChat('b1', '42', a, 600);
      assert.equal(await store.getChatToken('b1', '42'), a);
      await store.bindChat('b1', '42', b, 600);
      assert.equal(await store.getChatToken('b1', '42'), b);
      assert.equal(await store.getChatToken('b1', '43'), null);
    });
  });
}

contract('in-process', () => createMemoryTrackingStore());
const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
contract('Redis', () => createRedisTrackingStore({ url: REDIS_URL, prefix }));

describe('tracking store: Redis specifics', () => {
  const raw = new Redis(REDIS_URL);
  after(async () => {
    const leftovers = await raw.keys(`${prefix}:*`);
    if (leftovers.length > 0) await raw.del(...leftovers);
    raw.disconnect();
  });

  it("index keys hold a plain token string (never JSON) and share the click's TTL", async () => {
    const store = createRedisTrackingStore({ url: REDIS_URL, prefix });
    const t = token();
    const fbclid = `IwAR-${token()}`;
    await store.saveClick(t, click(fbclid), 900);
    const keys = createKeys(prefix);
    assert.equal(await raw.type(keys.fbclidIndex(fbclid)), 'string');
    assert.equal(await raw.get(keys.fbclidIndex(fbclid)), t);
    const ttl = await raw.ttl(keys.fbclidIndex(fbclid));
    assert.ok(ttl > 890 && ttl <= 900);
    await store.close();
  });

  it('clicks saved together (with and without an fbclid, each its own TTL) are each stored and indexed', async () => {
    const store = createRedisTrackingStore({ url: REDIS_URL, prefix });
    const keys = createKeys(prefix);
    const fbclids = [`fb-${token()}`, undefined, `fb-${token()}`, undefined];
    const tokens = fbclids.map(() => token());
    // The first save goes at once; the rest, arriving while it runs, share the next script call.
    await Promise.all(tokens.map((t, i) => store.saveClick(t, click(fbclids[i]), 600 + i * 100)));
    for (const [i, t] of tokens.entries()) {
      assert.deepEqual(await store.getClick(t), click(fbclids[i]));
      const ttl = await raw.ttl(keys.click(t));
      assert.ok(ttl > 590 + i * 100 && ttl <= 600 + i * 100);
      const fbclid = fbclids[i];
      if (fbclid !== undefined) assert.equal(await store.getTokenByFbclid(fbclid), t);
    }
    await store.close();
  });

  it('an unreachable Redis is a retryable STORE_UNAVAILABLE', async () => {
    const down = createRedisTrackingStore({ url: 'redis://127.0.0.1:1', prefix });
    await assert.rejects(
      down.getClick(token()),
      (e: unknown) => e instanceof BotflowError && e.code === 'STORE_UNAVAILABLE' && e.retryable,
    );
    await down.close();
  });

  it('the in-process store expires entries on its clock', async () => {
    let now = 0;
    const mem = createMemoryTrackingStore(() => now);
    const t = token();
    await mem.saveClick(t, click('x'), 10);
    now = 9_999;
    assert.notEqual(await mem.getClick(t), null);
    now = 10_000;
    assert.equal(await mem.getClick(t), null);
    assert.equal(await mem.getTokenByFbclid('x'), null);
  });
});
