/** The four Meta events as outbox rows: ids, times, action sources, user_data and values, exactly. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ClickPayload } from '../../src/tracking/click.ts';
import {
  buildInitiateCheckoutRow,
  buildLeadRow,
  buildPageViewRow,
  buildPurchaseRow,
} from '../../src/tracking/conversion-rows.ts';
import type { PixelSettings } from '../../src/tracking/pixel-settings.ts';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const linkUrl = (slug: string) => `https://bots.example/r/${slug}`;
const TOKEN = '0123456789abcdef0123456789abcdef';
const CLICK: ClickPayload = {
  bot_id: 'b1',
  slug: 'fb-nov',
  created_at: 1_700_000_000_500,
  fbc: 'fb.1.1700000000500.abc',
  fbp: 'fb.1.1700000000500.1234567890',
  ip: '203.0.113.9',
  user_agent: 'Mozilla/5.0',
};
const CLICK_DATA = {
  client_ip_address: '203.0.113.9',
  client_user_agent: 'Mozilla/5.0',
  fbc: 'fb.1.1700000000500.abc',
  fbp: 'fb.1.1700000000500.1234567890',
};
const PIXEL: PixelSettings = { pixel_id: 'px1', access_token: 'secret-token' };
const BUYER = { email: 'Ana@Example.com', phone: '11 98765-4321', first_name: 'Ana' };
const CHAT = { pixel: PIXEL, userId: '42', click: CLICK, buyer: BUYER, at: 1_700_000_100_999, linkUrl };

describe('conversion rows', () => {
  it('PageView: id from the click token, a website event on the link page at the click time', () => {
    assert.deepEqual(buildPageViewRow({ pixel: PIXEL, token: TOKEN, click: CLICK, linkUrl }), {
      kind: 'conversion',
      eventId: `pageview:${TOKEN}`,
      pixelId: 'px1',
      payload: {
        event_name: 'PageView',
        event_time: 1_700_000_000,
        event_id: `pageview:${TOKEN}`,
        action_source: 'website',
        event_source_url: 'https://bots.example/r/fb-nov',
        user_data: CLICK_DATA,
      },
    });
  });

  it('Lead: one per bot, buyer and click token; chat by default; hashed e-mail, phone and id', () => {
    assert.deepEqual(buildLeadRow({ ...CHAT, botId: 'b1', token: TOKEN }), {
      kind: 'conversion',
      eventId: `lead:b1:42:${TOKEN}`,
      pixelId: 'px1',
      payload: {
        event_name: 'Lead',
        event_time: 1_700_000_100,
        event_id: `lead:b1:42:${TOKEN}`,
        action_source: 'chat',
        user_data: {
          em: [sha('ana@example.com')],
          ph: [sha('5511987654321')],
          external_id: [sha('42')],
          ...CLICK_DATA,
        },
      },
    });
  });

  it('InitiateCheckout: id from the order, value in BRL, a website event when the pixel asks', () => {
    const pixel: PixelSettings = { ...PIXEL, action_source: 'website', user_data: { em: false, fn: true } };
    const row = buildInitiateCheckoutRow({ ...CHAT, pixel, orderId: 'o-7', amountCents: 1990 });
    assert.deepEqual(row, {
      kind: 'conversion',
      eventId: 'initiatecheckout:o-7',
      pixelId: 'px1',
      payload: {
        event_name: 'InitiateCheckout',
        event_time: 1_700_000_100,
        event_id: 'initiatecheckout:o-7',
        action_source: 'website',
        event_source_url: 'https://bots.example/r/fb-nov',
        user_data: {
          ph: [sha('5511987654321')],
          fn: [sha('ana')],
          external_id: [sha('42')],
          ...CLICK_DATA,
        },
        custom_data: { value: 19.9, currency: 'BRL', order_id: 'o-7' },
      },
    });
  });

  it('Purchase: id from the order; without a click or buyer facts it is a chat event with the hashed id', () => {
    const row = buildPurchaseRow({ ...CHAT, click: null, buyer: null, orderId: 'o-7', amountCents: 4700 });
    assert.deepEqual(row, {
      kind: 'conversion',
      eventId: 'purchase:o-7',
      pixelId: 'px1',
      payload: {
        event_name: 'Purchase',
        event_time: 1_700_000_100,
        event_id: 'purchase:o-7',
        action_source: 'chat',
        user_data: { external_id: [sha('42')] },
        custom_data: { value: 47, currency: 'BRL', order_id: 'o-7' },
      },
    });
  });

  it('a website preference without the click user agent stays chat (Meta requires it of website events)', () => {
    const pixel: PixelSettings = { ...PIXEL, action_source: 'website' };
    const click = { ...CLICK, user_agent: undefined };
    const row = buildPurchaseRow({ ...CHAT, pixel, click, orderId: 'o-8', amountCents: 100 });
    assert.equal(row.payload['action_source'], 'chat');
    assert.equal(row.payload['event_source_url'], undefined);
  });
});
