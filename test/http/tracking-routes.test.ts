/**
 * `GET /r/:slug` over real HTTP: it can only ever lead to `https://t.me/<username>?start=<token>`
 * (hostile slugs, odd stored usernames, spoofed Host/X-Forwarded-* headers, open-redirect query
 * params), and a presell link answers a strict HTML page whose Pixel PageView shares its event_id
 * with the server's PageView.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_TOKEN,
  BOT_ID,
  BOT_USERNAME,
  type FunnelHarness,
  PIXEL,
  startFunnelHarness,
} from '../support/funnel-harness.ts';

let h: FunnelHarness;
before(async () => {
  h = await startFunnelHarness();
  // A second bot, without a pixel, whose stored username the tests tamper with.
  await h.app.addBot({
    id: 'odd',
    token: '7200000002:AAodd-token-never-called',
    username: 'odd_ok_bot',
    setWebhook: false,
  });
  await h.app.funnel.links.add({ slug: 'odd-link', botId: 'odd', campaign: null, presell: true });
});
after(async () => {
  await h.close();
});

const T_ME = /^https:\/\/t\.me\/([A-Za-z][A-Za-z0-9_]{3,31})\?start=([0-9a-f]{32})$/;

/** The answer either leads exactly to the bot's t.me link, or is an error that leads nowhere. */
function assertOnlyTelegram(res: Response, username: string | null): void {
  const location = res.headers.get('location');
  if (username === null) {
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    assert.equal(location, null);
    assert.equal(res.headers.get('refresh'), null);
    return;
  }
  assert.equal(res.status, 302);
  const match = T_ME.exec(location ?? '');
  assert.ok(match, `redirected to ${location}`);
  assert.equal(match[1], username);
  assert.equal(new URL(location!).host, 't.me');
}

describe('GET /r/:slug leads only to Telegram', () => {
  it('ignores open-redirect query parameters', async () => {
    for (const query of [
      'next=https://evil.example',
      'redirect=//evil.example&url=https://evil.example&return_to=javascript:alert(1)',
      'start=evil&fbclid=abc&start=https://evil.example',
      'fbclid=IwAR%0d%0aLocation:%20https://evil.example',
    ]) {
      const res = await h.click(query);
      assertOnlyTelegram(res, BOT_USERNAME);
    }
  });

  it('ignores Host and X-Forwarded-* headers', async () => {
    const res = await h.click('fbclid=abc', {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'javascript',
      'x-forwarded-prefix': '//evil.example',
      'x-original-url': 'https://evil.example/',
      referer: 'https://evil.example/',
    });
    assertOnlyTelegram(res, BOT_USERNAME);
  });

  it('answers hostile slugs with 404 and no redirect', async () => {
    for (const slug of [
      '..%2F..%2Fevil',
      '%2F%2Fevil.example',
      'evil.example',
      'https:%2F%2Fevil.example',
      `${'a'.repeat(65)}`,
      'ads-promo%00',
      'ads-promo%0d%0aLocation:%20https:%2F%2Fevil.example',
      'pr%C3%B3mo',
      'nope',
    ]) {
      const res = await fetch(`${h.app.url}/r/${slug}`, { redirect: 'manual' });
      assertOnlyTelegram(res, null);
    }
    const escaped = await fetch(`${h.app.url}/r//evil.example`, { redirect: 'manual' });
    assertOnlyTelegram(escaped, null);
  });

  it('refuses to redirect to a stored username that is not a Telegram username, storing nothing', async () => {
    const before = await h.redis.keys(h.keys.click('*'));
    for (const username of [
      'evil.example/x',
      '//evil.example',
      'a@evil.example',
      'x?start=1&next=',
      'bot name',
      'bót_nãme',
      'a\r\nLocation: https://evil.example',
      'abc',
    ]) {
      await h.sql('update bots set username = $1 where id = $2', [username, 'odd']);
      h.app.funnel.forgetBot('odd');
      const res = await h.click('fbclid=abc', {}, 'odd-link');
      assertOnlyTelegram(res, null);
      assert.equal(res.headers.get('set-cookie'), null);
    }
    assert.deepEqual(await h.redis.keys(h.keys.click('*')), before);
    await h.sql('update bots set username = $1 where id = $2', ['odd_ok_bot', 'odd']);
    h.app.funnel.forgetBot('odd');
  });
});

describe('presell page', () => {
  it('is created through the admin API and listed with its flag', async () => {
    const res = await fetch(`${h.app.url}/admin/tracking-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'presell-1', bot_id: BOT_ID, campaign: 'bf', presell: true }),
    });
    assert.equal(res.status, 201);
    assert.equal(((await res.json()) as { link: { presell: boolean } }).link.presell, true);
    const list = (await (
      await fetch(`${h.app.url}/admin/tracking-links?bot_id=${BOT_ID}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
    ).json()) as { links: Array<{ slug: string; presell: boolean }> };
    assert.deepEqual(
      list.links.map((l) => [l.slug, l.presell]),
      [
        ['ads-promo', false],
        ['presell-1', true],
      ],
    );
  });

  it("fires the Pixel PageView with the server PageView's event_id, then continues to the same t.me link", async () => {
    const fbclid = 'IwZXh0bgNhZW0BMABhZGlkAasPresell_test-123';
    const res = await h.click(`fbclid=${fbclid}`, { 'user-agent': 'Mozilla/5.0 presell' }, 'presell-1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('location'), null);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const html = await res.text();

    // The same click capture as the redirect: cookies, the stored click, the fbclid index.
    const cookies = res.headers.getSetCookie().map((c) => c.split('=')[0]);
    assert.deepEqual(cookies.sort(), ['_fbc', '_fbp']);
    const target = /<a id="continue" href="([^"]+)"/.exec(html)?.[1] ?? '';
    const match = /^https:\/\/t\.me\/([A-Za-z0-9_]+)\?start=([0-9a-f]{32})$/.exec(target);
    assert.ok(match, target);
    assert.equal(match[1], BOT_USERNAME);
    const token = match[2]!;
    assert.equal((await h.app.funnel.tracking.getClick(token))?.fbclid, fbclid);
    assert.equal(await h.redis.get(h.keys.fbclidIndex(fbclid)), token);
    assert.match(html, /<meta http-equiv="refresh" content="(\d+);url=([^"]+)">/);
    assert.equal(/http-equiv="refresh" content="\d+;url=([^"]+)"/.exec(html)?.[1], target);
    assert.ok(html.includes(`location.replace(${JSON.stringify(target)})`));

    // The browser and server PageViews share one event id, so Meta keeps one.
    const eventId = `pageview:${token}`;
    assert.ok(html.includes(`fbq('init',${JSON.stringify(PIXEL.pixel_id)});`));
    assert.ok(html.includes(`fbq('track','PageView',{},{eventID:${JSON.stringify(eventId)}});`));
    const rows = await h.sql<{ event_id: string }>(
      `select event_id from conversion_events where payload->>'event_name' = 'PageView' and event_id = $1`,
      [eventId],
    );
    assert.equal(rows.length, 1);
    const sent = (await h.drainConversions()).filter((e) => e['event_id'] === eventId);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!['event_name'], 'PageView');
    assert.equal(sent[0]!['action_source'], 'website');
    assert.equal(sent[0]!['event_source_url'], `${h.app.url}/r/presell-1`);

    // Only Meta's script is external; everything else is inline with the CSP nonce.
    const srcs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(srcs, [
      target,
      `https://www.facebook.com/tr?id=${PIXEL.pixel_id}&amp;ev=PageView&amp;eid=pageview%3A${token}&amp;noscript=1`,
    ]);
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map(
      (m) => new URL(m[0].replace(/&amp;/g, '&')).host,
    );
    assert.deepEqual([...new Set(urls)].sort(), ['connect.facebook.net', 't.me', 'www.facebook.com']);
    assert.ok(
      html.includes("'https://connect.facebook.net/en_US/fbevents.js'") ||
        html.includes('"https://connect.facebook.net/en_US/fbevents.js"'),
    );
    const csp = res.headers.get('content-security-policy') ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-[^']+' https:\/\/connect\.facebook\.net(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    assert.deepEqual(scripts, [` nonce="${nonce}"`]);
  });

  it('escapes whatever the stored pixel id holds', async () => {
    const hostile = `1</script><script>alert(1)</script>"'&`;
    await h.sql(`update bots set pixel = jsonb_set(pixel, '{pixel_id}', to_jsonb($1::text)) where id = $2`, [
      hostile,
      BOT_ID,
    ]);
    h.app.funnel.forgetBot(BOT_ID);
    try {
      const res = await h.click('fbclid=x', {}, 'presell-1');
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.ok(!html.includes('</script><script>alert(1)'));
      assert.equal([...html.matchAll(/<script/g)].length, 1);
      assert.equal([...html.matchAll(/<\/script>/g)].length, 1);
      assert.ok(html.includes('\\u003c/script\\u003e\\u003cscript\\u003ealert(1)'));
      assert.ok(html.includes('tr?id=1%3C%2Fscript%3E'));
    } finally {
      await h.sql(
        `update bots set pixel = jsonb_set(pixel, '{pixel_id}', to_jsonb($1::text)) where id = $2`,
        [PIXEL.pixel_id, BOT_ID],
      );
      h.app.funnel.forgetBot(BOT_ID);
    }
  });

  it('falls back to the plain redirect when the bot has no pixel', async () => {
    const res = await h.click('fbclid=abc', {}, 'odd-link');
    assertOnlyTelegram(res, 'odd_ok_bot');
    assert.deepEqual(
      res.headers
        .getSetCookie()
        .map((c) => c.split('=')[0])
        .sort(),
      ['_fbc', '_fbp'],
    );
  });
});

describe('click tokens', () => {
  it('are fresh 32-hex tokens for every click, past a refill of the random block (300 clicks)', async () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const res = await h.click(`fbclid=tok${i}`);
      const match = T_ME.exec(res.headers.get('location') ?? '');
      assert.ok(match, `click ${i}`);
      tokens.add(match[2]!);
    }
    assert.equal(tokens.size, 300);
  });
});
