import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type FakeGraphApi, startFakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import { buildConversionEvent, eventIdFor } from '../../src/tracking/conversion-event.ts';
import { isTooOld, nextRetryDelay, sendConversionEvents } from '../../src/meta/meta-client.ts';

const TOKEN = 'EAAGsecretAccessToken1234567890';
const now = Date.parse('2026-11-22T12:00:00Z');

const purchase = (id: string, overrides: Record<string, unknown> = {}) => ({
  ...buildConversionEvent({
    name: 'Purchase',
    eventId: eventIdFor('Purchase', id),
    eventTime: Math.floor(now / 1000) - 60,
    telegramUserId: '42',
    click: { ip: '203.0.113.9', user_agent: 'UA', fbc: 'fb.1.1.abc', fbp: 'fb.1.1.123' },
    valueCents: 2990,
    orderId: id,
  }),
  ...overrides,
});

describe('Meta client against the fake Graph API (real HTTP)', () => {
  let graph: FakeGraphApi;
  before(async () => {
    graph = await startFakeGraphApi({ tokens: [TOKEN], now: () => now });
  });
  after(() => graph.close());
  const send = (events: Array<Record<string, unknown>>, accessToken = TOKEN) =>
    sendConversionEvents({ graphUrl: graph.url, pixelId: '1234567890', accessToken, events });

  it('delivers events and the fake records them', async () => {
    const result = await send([purchase('p1')]);
    assert.deepEqual(result.ok && result.eventsReceived, 1);
    assert.equal(graph.events.get('1234567890')?.[0]?.['event_id'], 'purchase:p1');
  });

  it('one bad event rejects the whole request as permanent (code 100)', async () => {
    const before = graph.events.get('1234567890')?.length ?? 0;
    const result = await send([
      purchase('p2'),
      purchase('p3', { event_time: Math.floor(now / 1000) - 8 * 86400 }),
    ]);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.retryable, false);
    assert.equal(!result.ok && result.code, 100);
    assert.equal(graph.events.get('1234567890')?.length ?? 0, before, 'nothing of the batch was kept');
  });

  it('a website event needs its event_source_url and the client user agent, as Meta requires', async () => {
    const pageView = (extra: Record<string, unknown>) =>
      buildConversionEvent({
        name: 'PageView',
        eventId: eventIdFor('PageView', 'tok1'),
        eventTime: Math.floor(now / 1000) - 60,
        click: { user_agent: 'UA', fbp: 'fb.1.1.123' },
        ...extra,
      });
    const missing = await send([pageView({})]);
    assert.equal(!missing.ok && missing.code, 100);
    assert.match(!missing.ok ? missing.message : '', /event_source_url/);
    const ok = await send([pageView({ eventSourceUrl: 'https://ads.example.com/r/promo' })]);
    assert.equal(ok.ok, true);
  });

  it('500s and Meta transient codes are retryable; a bad token (190) is not; the token never appears', async () => {
    graph.injectError({ status: 500, code: 2, message: 'Service temporarily unavailable' });
    const transient = await send([purchase('p4')]);
    assert.equal(!transient.ok && transient.retryable, true);
    const retried = await send([purchase('p4')]);
    assert.equal(retried.ok, true, 'the retry goes through');
    const badToken = await send([purchase('p5')], 'EAAGwrongToken');
    assert.equal(!badToken.ok && badToken.retryable, false);
    assert.equal(!badToken.ok && badToken.code, 190);
    for (const r of [transient, badToken]) assert.doesNotMatch(JSON.stringify(r), /EAAG/);
  });

  it('network failure is retryable and does not leak the token', async () => {
    const result = await sendConversionEvents({
      graphUrl: 'http://127.0.0.1:1',
      pixelId: '1',
      accessToken: TOKEN,
      events: [purchase('p6')],
    });
    assert.equal(!result.ok && result.retryable, true);
    assert.doesNotMatch(JSON.stringify(result), /EAAG/);
  });

  it('backoff grows, is jittered and capped; events near 7 days old are given up', () => {
    assert.equal(
      nextRetryDelay(1, () => 1, 1000),
      1000,
    );
    assert.equal(
      nextRetryDelay(4, () => 1, 1000),
      8000,
    );
    assert.equal(
      nextRetryDelay(40, () => 1, 1000, 60_000),
      60_000,
    );
    assert.equal(
      nextRetryDelay(3, () => 0.5, 1000),
      2000,
    );
    assert.equal(isTooOld(now / 1000 - 86400, now), false);
    assert.equal(isTooOld(now / 1000 - 7 * 86400, now), true);
  });
});
