import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { buildStartRedirect, captureClick } from '../../src/tracking/click.ts';
import {
  buildConversionEvent,
  eventIdFor,
  hashForMeta,
  pickActionSource,
} from '../../src/tracking/conversion-event.ts';
import { preferLaterClick, resolveTracking } from '../../src/tracking/resolve-tracking.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const TOKEN = '0123456789abcdef0123456789abcdef';
const base = {
  slug: 'promo',
  botId: 'b1',
  cookies: {},
  now: 1_763_800_000_000,
  token: TOKEN,
  random10: '1234567890',
};

describe('captureClick', () => {
  it("keeps a 500-character fbclid byte for byte and builds fbc/fbp in Meta's formats", () => {
    const fbclid = `IwAR${'x'.repeat(496)}`;
    const { payload, setCookies } = captureClick({
      ...base,
      query: { fbclid, utm_source: 'fb', utm_campaign: 'bf', src: 'ad1' },
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0',
    });
    assert.equal(payload.fbclid, fbclid);
    assert.equal(payload.fbclid!.length, 500);
    assert.equal(payload.fbc, `fb.1.${base.now}.${fbclid}`);
    assert.equal(payload.fbp, `fb.1.${base.now}.1234567890`);
    assert.deepEqual(payload.utm, { source: 'fb', campaign: 'bf' });
    assert.equal(payload.src, 'ad1');
    assert.deepEqual(
      setCookies.map((c) => c.name),
      ['_fbc', '_fbp'],
    );
  });

  it('stores a mangled fbclid whole but never sets it as a cookie', () => {
    for (const fbclid of ['IwAR\r\nSet-Cookie: x=1', 'a;b', 'a b', 'a,b', 'é']) {
      const { payload, setCookies } = captureClick({ ...base, query: { fbclid } });
      assert.equal(payload.fbclid, fbclid);
      assert.deepEqual(
        setCookies.map((c) => c.name),
        ['_fbp'],
      );
    }
  });

  it('reuses existing first-party cookies and sets none', () => {
    const { payload, setCookies } = captureClick({
      ...base,
      query: { fbclid: 'abc' },
      cookies: { _fbc: 'fb.1.1.old', _fbp: 'fb.1.1.42' },
    });
    assert.equal(payload.fbc, 'fb.1.1.old');
    assert.equal(payload.fbp, 'fb.1.1.42');
    assert.deepEqual(setCookies, []);
  });

  it('a redirect can only go to t.me', () => {
    assert.equal(buildStartRedirect('vip_bot', TOKEN), `https://t.me/vip_bot?start=${TOKEN}`);
    for (const username of ['evil.com/x', 'a@evil.com', '//evil.com', 'vip bot', 'x']) {
      assert.throws(
        () => buildStartRedirect(username, TOKEN),
        (e: unknown) => e instanceof BotflowError && e.code === 'BAD_REQUEST',
      );
    }
    assert.throws(() => buildStartRedirect('vip_bot', 'a&next=https://evil.com'));
  });
});

describe('resolveTracking', () => {
  const click = (fbclid: string) => ({ bot_id: 'b1', slug: 's', created_at: 1, fbclid });
  it("prefers the user binding, then the chat index, the fbclid index, the user's fields, none", () => {
    const all = {
      userBinding: { token: 't1', payload: click('a') },
      chatIndex: { token: 't2', payload: click('b') },
      fbclidIndex: { token: 't3', payload: click('c') },
      userFields: { fbclid: 'd' },
    };
    assert.equal(resolveTracking(all).source, 'user_binding');
    assert.equal(resolveTracking({ ...all, userBinding: null }).token, 't2');
    assert.equal(resolveTracking({ ...all, userBinding: null, chatIndex: null }).source, 'fbclid_index');
    assert.deepEqual(resolveTracking({ userFields: { fbclid: 'd' } }), {
      token: null,
      payload: { fbclid: 'd' },
      source: 'user_fields',
    });
    assert.deepEqual(resolveTracking({}), { token: null, payload: null, source: 'none' });
  });
  it('a token whose payload expired does not win', () => {
    const r = resolveTracking({
      userBinding: { token: 'old', payload: null },
      chatIndex: { token: 't2', payload: click('b') },
    });
    assert.equal(r.source, 'chat_index');
  });
});

describe('preferLaterClick', () => {
  const at = (
    token: string | null,
    created_at: number,
    source: 'user_binding' | 'user_fields' = 'user_binding',
  ) => ({
    token,
    payload: { bot_id: 'b1', slug: 's', created_at },
    source,
  });
  it('takes a newer click made before the order was placed', () => {
    assert.equal(preferLaterClick(at('old', 100), at('new', 200), 300)?.token, 'new');
    assert.equal(
      preferLaterClick({ token: null, payload: null, source: 'none' }, at('new', 200), 300)?.token,
      'new',
    );
    assert.equal(preferLaterClick(null, at('new', 200), 300)?.token, 'new');
  });
  it('keeps the charge click against a click made after the order, an older one, or no click', () => {
    assert.equal(preferLaterClick(at('old', 100), at('late', 400), 300)?.token, 'old');
    assert.equal(preferLaterClick(at('old', 100), at('older', 50), 300)?.token, 'old');
    assert.equal(preferLaterClick(at('old', 100), at(null, 200, 'user_fields'), 300)?.token, 'old');
    assert.equal(preferLaterClick(null, { token: null, payload: null, source: 'none' }, 300), null);
  });
});

describe('conversion events', () => {
  it('a chat-funnel event is website only when the pixel asks and the click has a user agent and a link', () => {
    const url = (slug: string) => `https://bf.example/r/${slug}`;
    const click = { slug: 'fb-nov', user_agent: 'Mozilla/5.0' };
    assert.deepEqual(pickActionSource('website', click, url), {
      actionSource: 'website',
      eventSourceUrl: 'https://bf.example/r/fb-nov',
    });
    assert.deepEqual(pickActionSource(undefined, click, url), { actionSource: 'chat' });
    assert.deepEqual(pickActionSource('chat', click, url), { actionSource: 'chat' });
    assert.deepEqual(pickActionSource('website', { slug: 'fb-nov' }, url), { actionSource: 'chat' });
    assert.deepEqual(pickActionSource('website', null, url), { actionSource: 'chat' });
  });

  it("hashes user data per Meta's normalization and leaves IP, UA, fbc, fbp unhashed", () => {
    const event = buildConversionEvent({
      name: 'Purchase',
      eventId: eventIdFor('Purchase', 'pay-17'),
      eventTime: 1_763_800_000,
      telegramUserId: '42',
      click: { ip: '203.0.113.9', user_agent: 'UA', fbc: 'fb.1.1.abc', fbp: 'fb.1.1.123' },
      user: { email: '  Ana@Example.COM ', phone: '(11) 91234-5678', city: 'São Paulo' },
      valueCents: 2990,
      orderId: 'pay-17',
    });
    assert.equal(event['event_id'], 'purchase:pay-17');
    assert.equal(event['action_source'], 'chat');
    const ud = event['user_data'] as Record<string, unknown>;
    assert.deepEqual(ud['em'], [sha('ana@example.com')]);
    assert.deepEqual(ud['ph'], [sha('5511912345678')]);
    assert.deepEqual(ud['ct'], [sha('são paulo'.normalize('NFC').replace(/\s+/g, ''))]);
    assert.deepEqual(ud['external_id'], [sha('42')]);
    assert.equal(ud['client_ip_address'], '203.0.113.9');
    assert.equal(ud['fbc'], 'fb.1.1.abc');
    assert.equal(ud['fbp'], 'fb.1.1.123');
    assert.deepEqual(event['custom_data'], { value: 29.9, currency: 'BRL', order_id: 'pay-17' });
  });
  it('a phone already carrying 55 is not prefixed twice', () => {
    assert.equal(hashForMeta('ph', '+55 11 91234-5678'), sha('5511912345678'));
  });
});
