/**
 * The tracking checks the older system never passed, end to end: an ad click over real HTTP, Redis
 * read through the key schema, the bot_users row in Postgres, the Purchase the fake Graph API
 * receives, and the resolution counted in `/metrics`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BOT_ID, type FunnelHarness, startFunnelHarness } from '../support/funnel-harness.ts';

let h: FunnelHarness;
before(async () => {
  h = await startFunnelHarness();
});
after(async () => {
  await h.close();
});

/** A realistic fbclid: Meta's are URL-safe base64-like strings of no documented maximum length. */
const fbclidOf = (length: number) =>
  `IwZXh0bgNhZW0BMABhZGlk${randomBytes(length).toString('base64url')}`.slice(0, length);
const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) FBAN/FBIOS';
let nextUser = 7_000_000_100;

async function clickAd(fbclid: string, ip = '203.0.113.7') {
  const res = await h.click(`fbclid=${fbclid}&utm_source=facebook&utm_campaign=bf`, {
    'user-agent': UA,
    'x-forwarded-for': `${ip}, 10.0.0.1`,
  });
  assert.equal(res.status, 302);
  const token = h.tokenOf(res);
  assert.match(token, /^[0-9a-f]{32}$/);
  return token;
}

async function botUser(userId: number) {
  const rows = await h.sql<{ tracking_token: string | null; fbclid: string | null; fbclid_bytes: number }>(
    `select tracking_token, fbclid, octet_length(fbclid) as fbclid_bytes from bot_users where bot_id = $1 and user_id = $2`,
    [BOT_ID, userId],
  );
  return rows[0];
}

const purchaseOf = (events: Array<Record<string, unknown>>, orderId: string) =>
  events.filter((e) => e['event_name'] === 'Purchase' && e['event_id'] === `purchase:${orderId}`);
const userData = (e: Record<string, unknown> | undefined) =>
  (e?.['user_data'] ?? {}) as Record<string, unknown>;

async function resolutionCount(source: string): Promise<number> {
  const text = await (await fetch(`${h.app.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`botflow_tracking_resolution_total{source="${source}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('tracking checks', () => {
  it('the fbclid index holds exactly the click token, as a string', async () => {
    const fbclid = fbclidOf(90);
    const token = await clickAd(fbclid);
    const key = h.keys.fbclidIndex(fbclid);
    assert.equal(await h.redis.type(key), 'string');
    assert.equal(await h.redis.get(key), token);
    assert.equal(await h.app.funnel.tracking.getTokenByFbclid(fbclid), token);
    const click = JSON.parse((await h.redis.get(h.keys.click(token)))!) as Record<string, unknown>;
    assert.equal(click['fbclid'], fbclid);
  });

  it('the chat index holds the token of the /start that bound it', async () => {
    const userId = nextUser++;
    const token = await clickAd(fbclidOf(120));
    assert.equal((await h.post(h.message(userId, `/start ${token}`))).status, 200);
    const key = h.keys.chatIndex(BOT_ID, String(userId));
    assert.equal(await h.redis.type(key), 'string');
    assert.equal(await h.redis.get(key), token);
    assert.equal(await h.app.funnel.tracking.getChatToken(BOT_ID, String(userId)), token);
  });

  for (const length of [120, 500]) {
    it(`the user's fbclid equals the click's byte for byte (${length} characters)`, async () => {
      const userId = nextUser++;
      const fbclid = fbclidOf(length);
      assert.equal(fbclid.length, length);
      const token = await clickAd(fbclid);
      assert.equal((await h.post(h.message(userId, `/start ${token}`))).status, 200);
      const row = await botUser(userId);
      assert.equal(row?.tracking_token, token);
      assert.equal(row?.fbclid, fbclid);
      assert.equal(row?.fbclid_bytes, Buffer.byteLength(fbclid));
      assert.equal(await h.app.funnel.tracking.getTokenByFbclid(row!.fbclid!), token);
    });
  }

  it("a returning user's binding is updated by a new click, and the Purchase carries the new click", async () => {
    const userId = nextUser++;
    const first = await clickAd(fbclidOf(100), '198.51.100.1');
    assert.equal((await h.post(h.message(userId, `/start ${first}`))).status, 200);
    const fbclid = fbclidOf(140);
    const second = await clickAd(fbclid, '198.51.100.2');
    assert.equal((await h.post(h.message(userId, `/start ${second}`))).status, 200);
    const row = await botUser(userId);
    assert.equal(row?.tracking_token, second);
    assert.equal(row?.fbclid, fbclid);
    assert.equal(await h.redis.get(h.keys.chatIndex(BOT_ID, String(userId))), second);

    assert.equal((await h.post(h.buy(userId))).status, 200);
    const orderId = await h.pay(userId);
    const [purchase, ...more] = purchaseOf(await h.drainConversions(), orderId);
    assert.equal(more.length, 0);
    assert.ok(String(userData(purchase)['fbc']).endsWith(`.${fbclid}`));
    assert.equal(userData(purchase)['client_ip_address'], '198.51.100.2');
  });

  it('/start and a buy press delivered at the same instant still produce a Purchase with the click', async () => {
    // Returning users already at the offer, so the buy button is valid whichever of the two updates
    // the bot processes first; half of them were bound to an older click, half to none. Several
    // users race at once so both orders occur.
    const race = async (userId: number, older: boolean) => {
      const first = older ? `/start ${await clickAd(fbclidOf(90))}` : '/start';
      assert.equal((await h.post(h.message(userId, first))).status, 200);
      const ip = `192.0.2.${userId % 200}`;
      const token = await clickAd(fbclidOf(200), ip);
      // Telegram delivers a message and a button press on separate queues, in parallel.
      h.push({ message: h.message(userId, `/start ${token}`)['message'] });
      h.push({ callback_query: h.buy(userId)['callback_query'] });
      return { userId, ip, stored: (await h.app.funnel.tracking.getClick(token))! };
    };
    const users = Array.from({ length: 6 }, (_, i) => ({ userId: nextUser++, older: i % 2 === 0 }));
    const raced = await Promise.all(users.map((u) => race(u.userId, u.older)));
    await h.fake.settled();
    const paid = await Promise.all(raced.map(async (r) => ({ ...r, orderId: await h.pay(r.userId) })));
    const events = await h.drainConversions();
    for (const { orderId, stored, ip } of paid) {
      const [purchase, ...more] = purchaseOf(events, orderId);
      assert.equal(more.length, 0);
      assert.equal(userData(purchase)['fbc'], stored.fbc, orderId);
      assert.equal(userData(purchase)['fbp'], stored.fbp, orderId);
      assert.equal(userData(purchase)['client_ip_address'], ip);
      assert.equal(userData(purchase)['client_user_agent'], UA);
    }
  });

  it('a payment webhook racing the charge commit is confirmed once, with the click', async () => {
    const userId = nextUser++;
    const token = await clickAd(fbclidOf(150), '192.0.2.250');
    const stored = (await h.app.funnel.tracking.getClick(token))!;
    assert.equal((await h.post(h.message(userId, `/start ${token}`))).status, 200);
    h.sandbox.payOnCreate(true);
    try {
      assert.equal((await h.post(h.buy(userId))).status, 200);
      const charge = await h.waitFor('the sandbox charge', async () =>
        [...h.sandbox.charges.values()].find((c) => c.order_id.includes(`:${userId}:`)),
      );
      await h.sandbox.settled();
      await h.waitFor('the payment', async () => {
        const p = await h.app.funnel.payments.get(charge.order_id);
        return p?.status === 'paid' && p.gatewayChargeId === charge.id;
      });
      const [purchase, ...more] = purchaseOf(await h.drainConversions(), charge.order_id);
      assert.equal(more.length, 0);
      assert.equal(userData(purchase)['fbc'], stored.fbc);
      assert.equal(userData(purchase)['fbp'], stored.fbp);
      const orders = await h.sql('select 1 from payments where bot_id = $1 and user_id = $2', [
        BOT_ID,
        userId,
      ]);
      assert.equal(orders.length, 1);
    } finally {
      h.sandbox.payOnCreate(false);
    }
  });

  it('a purchase without any click still sends a Purchase with what the user has, and says so', async () => {
    const userId = nextUser++;
    const before = await resolutionCount('none');
    assert.equal((await h.post(h.message(userId, '/start'))).status, 200);
    assert.equal((await h.post(h.buy(userId))).status, 200);
    const orderId = await h.pay(userId);
    const payment = await h.app.funnel.payments.get(orderId);
    assert.equal((payment!.tracking as { source?: string }).source, 'none');
    assert.equal(await resolutionCount('none'), before + 1);
    const [purchase, ...more] = purchaseOf(await h.drainConversions(), orderId);
    assert.equal(more.length, 0);
    const ud = userData(purchase);
    assert.ok(Array.isArray(ud['external_id']) && ud['external_id'].length === 1);
    assert.equal(ud['fbc'], undefined);
    assert.equal(ud['fbp'], undefined);
    assert.deepEqual(purchase!['custom_data'], { value: 19.9, currency: 'BRL', order_id: orderId });
  });

  it('counts the winning source of every charge in /metrics', async () => {
    const userId = nextUser++;
    const before = await resolutionCount('user_binding');
    const token = await clickAd(fbclidOf(64));
    assert.equal((await h.post(h.message(userId, `/start ${token}`))).status, 200);
    assert.equal((await h.post(h.buy(userId))).status, 200);
    const { orderId } = await h.chargeOf(userId);
    assert.equal(
      ((await h.app.funnel.payments.get(orderId))!.tracking as { source?: string }).source,
      'user_binding',
    );
    assert.equal(await resolutionCount('user_binding'), before + 1);
  });

  it('an event retried after a 500 from Meta is received once', async () => {
    await h.drainConversions();
    const userId = nextUser++;
    const token = await clickAd(fbclidOf(80));
    assert.equal((await h.post(h.message(userId, `/start ${token}`))).status, 200);
    const leadId = `lead:${BOT_ID}:${userId}:${token}`;
    await h.app.effects.idle();
    // Rows are due at the database's now() (microseconds): let the millisecond clock pass it.
    await new Promise((r) => setTimeout(r, 10));
    h.graph.injectError({ status: 500, code: 2, message: 'Service temporarily unavailable' });
    await h.app.runJobs();
    const rows = await h.sql<{ status: string; attempts: number; last_error: string | null }>(
      'select status, attempts, last_error from conversion_events where event_id = $1',
      [leadId],
    );
    assert.equal(rows[0]?.status, 'pending');
    assert.equal(rows[0]?.attempts, 1);
    assert.match(rows[0]?.last_error ?? '', /^500 code 2/);
    const events = await h.drainConversions();
    assert.equal(events.filter((e) => e['event_id'] === leadId).length, 1);
    const sent = await h.sql<{ status: string; attempts: number }>(
      'select status, attempts from conversion_events where event_id = $1',
      [leadId],
    );
    assert.deepEqual(sent[0], { status: 'sent', attempts: 2 });
    const ids = events.map((e) => `${String(e['event_name'])}/${String(e['event_id'])}`);
    assert.equal(new Set(ids).size, ids.length, 'no event reached Meta twice');
  });
});

describe('a pixel set to action_source "website"', () => {
  it('sends Lead, InitiateCheckout and Purchase of a tracked click as website events from the link page; an untracked buyer stays chat', async () => {
    await h.sql(`update bots set pixel = pixel || '{"action_source": "website"}'::jsonb where id = $1`, [
      BOT_ID,
    ]);
    h.app.funnel.forgetBot(BOT_ID);
    try {
      const tracked = nextUser++;
      const token = await clickAd(fbclidOf(80));
      assert.equal((await h.post(h.message(tracked, `/start ${token}`))).status, 200);
      assert.equal((await h.post(h.buy(tracked))).status, 200);
      const orderId = await h.pay(tracked);
      const untracked = nextUser++;
      assert.equal((await h.post(h.message(untracked, '/start'))).status, 200);
      assert.equal((await h.post(h.buy(untracked))).status, 200);
      const plainOrder = await h.pay(untracked);
      // The fake Graph API refuses a website event without a user agent or a page URL, like Meta.
      const events = await h.drainConversions();
      const byId = (id: string) => events.find((e) => e['event_id'] === id);
      const page = `${h.app.url}/r/${h.slug}`;
      for (const id of [
        `lead:${BOT_ID}:${tracked}:${token}`,
        `initiatecheckout:${orderId}`,
        `purchase:${orderId}`,
      ]) {
        const event = byId(id);
        assert.equal(event?.['action_source'], 'website', id);
        assert.equal(event?.['event_source_url'], page, id);
        assert.equal(userData(event)['client_user_agent'], UA, id);
      }
      const plain = byId(`purchase:${plainOrder}`);
      assert.equal(plain?.['action_source'], 'chat');
      assert.equal(plain?.['event_source_url'], undefined);
    } finally {
      await h.sql(`update bots set pixel = pixel - 'action_source' where id = $1`, [BOT_ID]);
      h.app.funnel.forgetBot(BOT_ID);
    }
  });
});
