/**
 * The buyer's click from the evidence (the durable binding, then the chat and fbclid indexes of the
 * real Redis tracking store), counted once per charge; a store that cannot answer is no evidence.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisTrackingStore, type TrackingStore } from '../../src/stores/tracking-store.ts';
import { createBuyerClickResolver } from '../../src/stores/resolve-buyer-click.ts';
import type { ClickPayload } from '../../src/tracking/click.ts';

const REDIS_URL = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `bft-${randomBytes(4).toString('hex')}`;
const token = () => randomBytes(16).toString('hex');
const click = (slug: string, fbclid?: string): ClickPayload => ({
  bot_id: 'b1',
  slug,
  created_at: 1,
  ...(fbclid === undefined ? {} : { fbclid }),
});
const tracking = createRedisTrackingStore({ url: REDIS_URL, prefix });
after(async () => {
  await tracking.close();
  const raw = new Redis(REDIS_URL);
  const keys = await raw.keys(`${prefix}*`);
  if (keys.length > 0) await raw.del(...keys);
  raw.disconnect();
});

describe('createBuyerClickResolver', () => {
  it('prefers the durable binding, then the chat index, then the fbclid index; counts charges only', async () => {
    const bound = token();
    const chat = token();
    const byFbclid = token();
    const fbclid = `fb-${token()}`;
    await tracking.saveClick(bound, click('bound'), 600);
    await tracking.saveClick(chat, click('chat'), 600);
    await tracking.saveClick(byFbclid, click('fbclid', fbclid), 600);
    await tracking.bindChat('b1', '10', chat, 600);
    await tracking.bindChat('b1', '11', chat, 600);
    const bindings = new Map([
      ['10', { tracking_token: bound, tracking_payload: click('bound'), fbclid: null }],
      ['12', { tracking_token: null, tracking_payload: null, fbclid }],
    ]);
    const counted: string[] = [];
    const resolve = createBuyerClickResolver({
      bindingOf: async (_botId, userId) => bindings.get(userId) ?? null,
      tracking,
      onCharge: (source) => counted.push(source),
    });
    const r10 = await resolve('b1', '10', 'charge');
    assert.deepEqual([r10.token, r10.source], [bound, 'user_binding']);
    const r11 = await resolve('b1', '11', 'purchase');
    assert.deepEqual([r11.token, r11.source, r11.payload?.slug], [chat, 'chat_index', 'chat']);
    const r12 = await resolve('b1', '12', 'charge');
    assert.deepEqual([r12.token, r12.source], [byFbclid, 'fbclid_index']);
    const r13 = await resolve('b1', '13', 'charge');
    assert.deepEqual(r13, { token: null, payload: null, source: 'none' });
    assert.deepEqual(counted, ['user_binding', 'fbclid_index', 'none']);
  });

  it('takes a tracking store that cannot answer as no evidence, never failing the charge', async () => {
    const down: TrackingStore = {
      saveClick: async () => {},
      getClick: () => Promise.reject(new Error('redis down')),
      bindChat: async () => {},
      getChatToken: () => Promise.reject(new Error('redis down')),
      getTokenByFbclid: () => Promise.reject(new Error('redis down')),
      close: async () => {},
    };
    const fields = click('kept');
    const resolve = createBuyerClickResolver({
      bindingOf: async () => ({ tracking_token: null, tracking_payload: fields, fbclid: 'fb-x' }),
      tracking: down,
    });
    assert.deepEqual(await resolve('b1', '20', 'charge'), {
      token: null,
      payload: fields,
      source: 'user_fields',
    });
  });
});
