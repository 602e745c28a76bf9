import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { buildStartRedirect, captureClick } from '../../src/tracking/click.ts';

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
