/**
 * The conversions sender against real Postgres (the outbox) and the fake Graph API over HTTP: one
 * invalid event in a batch dies alone, and every valid event of that batch reaches Meta once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConversionOutbox } from '../../src/db/conversion-outbox.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { type FakeGraphApi, startFakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import { buildConversionEvent, eventIdFor } from '../../src/tracking/conversion-event.ts';
import { sendDueConversions } from '../../src/meta/send-conversions.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const PIXEL = '777000777';
const TOKEN = 'meta-sender-test-token';
const OTHER_TOKEN = 'meta-sender-test-token-of-b2';
let fresh: FreshDatabase;
let db: DatabaseHandle;
let graph: FakeGraphApi;
before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  graph = await startFakeGraphApi({ tokens: [TOKEN, OTHER_TOKEN] });
});
after(async () => {
  await graph.close();
  await db.close();
  await fresh.drop();
});

/** A chat-funnel event about `id`, five seconds old, with its deterministic event id. */
function chatEvent(
  name: 'Lead' | 'Purchase',
  id: string,
  order: { valueCents?: number; orderId?: string } = {},
) {
  const eventId = eventIdFor(name, id);
  const payload = buildConversionEvent({
    name,
    eventId,
    eventTime: Math.floor(Date.now() / 1000) - 5,
    actionSource: 'chat',
    telegramUserId: '42',
    click: null,
    ...order,
  });
  return { eventId, payload };
}

describe('sendDueConversions', () => {
  it('isolates an invalid event: it alone is dead, the rest of its batch is received once', async () => {
    const outbox = createConversionOutbox(db.orm);
    const nowS = Math.floor(Date.now() / 1000);
    const good = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'].map((id) => {
      const eventId = eventIdFor('Purchase', id);
      return {
        eventId,
        payload: buildConversionEvent({
          name: 'Purchase',
          eventId,
          eventTime: nowS - 5,
          telegramUserId: '42',
          click: { fbc: 'fb.1.1.abc', fbp: 'fb.1.1.123' },
          valueCents: 1990,
          orderId: id,
        }),
      };
    });
    // A website event without a user agent: Meta refuses it (code 100), and with it its whole request.
    const badId = eventIdFor('PageView', 'bad');
    const bad = buildConversionEvent({
      name: 'PageView',
      eventId: badId,
      eventTime: nowS - 5,
      click: { fbp: 'x' },
    });
    for (const row of [...good.slice(0, 3), { eventId: badId, payload: bad }, ...good.slice(3)])
      await outbox.add({ eventId: row.eventId, pixelId: PIXEL, botId: 'b1', payload: row.payload });

    const handled = await sendDueConversions({
      outbox,
      pixelSettings: async (id, botId) =>
        id === PIXEL && botId === 'b1' ? { pixel_id: PIXEL, access_token: TOKEN } : null,
      graphUrl: graph.url,
      // Rows are due at the database's now(); a second ahead keeps a same-millisecond row due.
      now: () => Date.now() + 1000,
    });
    assert.equal(handled, 7);
    const received = (graph.events.get(PIXEL) ?? []).map((e) => e['event_id']);
    assert.deepEqual([...received].sort(), good.map((g) => g.eventId).sort());
    const rows = await createSql(db.orm)<{ event_id: string; status: string; last_error: string | null }>(
      'select event_id, status, last_error from conversion_events order by id',
    );
    assert.deepEqual(
      rows.filter((r) => r.status !== 'sent').map((r) => r.event_id),
      [badId],
    );
    assert.match(rows.find((r) => r.event_id === badId)!.last_error ?? '', /code 100/);
    assert.deepEqual(await outbox.counts(), { pending: 0, sent: 6, dead: 1 });
  });

  it("sends each bot's events with that bot's token; a bot without the pixel's settings gets its own reason", async () => {
    const outbox = createConversionOutbox(db.orm);
    const sql = createSql(db.orm);
    await sql('delete from conversion_events');
    const event = (id: string) => chatEvent('Lead', id);
    for (const [id, botId] of [
      ['a1', 'b1'],
      ['b1', 'b2'],
      ['a2', 'b1'],
      ['gone', 'b3'],
    ] as const)
      await outbox.add({ ...event(id), pixelId: PIXEL, botId });
    const legacy = event('legacy');
    await sql('insert into conversion_events (event_id, pixel_id, payload) values ($1, $2, $3)', [
      legacy.eventId,
      PIXEL,
      JSON.stringify(legacy.payload),
    ]);
    const tokens: Record<string, string> = { b1: TOKEN, b2: OTHER_TOKEN };
    await sendDueConversions({
      outbox,
      pixelSettings: async (id, botId) => {
        if (id !== PIXEL) return null;
        const token = botId === null ? TOKEN : tokens[botId];
        return token === undefined ? null : { pixel_id: PIXEL, access_token: token };
      },
      graphUrl: graph.url,
      now: () => Date.now() + 1000,
    });
    const sentWith = (id: string) => graph.tokensByEvent.get(eventIdFor('Lead', id));
    assert.equal(sentWith('a1'), TOKEN);
    assert.equal(sentWith('a2'), TOKEN);
    assert.equal(sentWith('b1'), OTHER_TOKEN);
    assert.equal(sentWith('legacy'), TOKEN, 'a row without its bot falls back to the pixel lookup');
    assert.equal(sentWith('gone'), undefined);
    const dead = await sql<{ event_id: string; last_error: string }>(
      `select event_id, last_error from conversion_events where status = 'dead'`,
    );
    assert.deepEqual(dead, [
      { event_id: eventIdFor('Lead', 'gone'), last_error: 'bot b3 has no pixel settings for this pixel id' },
    ]);
  });

  it('starts no request that could outlast its lease: those events go out once the lease ends, once', async () => {
    const outbox = createConversionOutbox(db.orm);
    await createSql(db.orm)('delete from conversion_events');
    const event = (id: string) => chatEvent('Purchase', id, { valueCents: 990, orderId: id });
    await outbox.add({ ...event('late-1'), pixelId: PIXEL, botId: 'b1' });
    await outbox.add({ ...event('late-2'), pixelId: PIXEL, botId: 'b2' });
    const tokens: Record<string, string> = { b1: TOKEN, b2: OTHER_TOKEN };
    const options = {
      outbox,
      pixelSettings: async (id: string, botId: string | null) =>
        id === PIXEL && botId !== null && tokens[botId] !== undefined
          ? { pixel_id: PIXEL, access_token: tokens[botId] }
          : null,
      graphUrl: graph.url,
      leaseMs: 20_000,
    };
    // The first bot's request takes 9 s of the 20 s lease: the second's could end after it.
    const claimedAt = Date.now() + 1000;
    let clock = claimedAt;
    const first = await sendDueConversions({
      ...options,
      now: () => clock,
      onSent: () => {
        clock += 9_000;
      },
    });
    assert.equal(first, 2, 'both were claimed');
    const sentWith = (id: string) => graph.tokensByEvent.get(eventIdFor('Purchase', id));
    const sentOnce = (id: string) =>
      (graph.events.get(PIXEL) ?? []).filter((e) => e['event_id'] === eventIdFor('Purchase', id)).length;
    const sentFirst = sentWith('late-1') === undefined ? 'late-2' : 'late-1';
    const other = sentFirst === 'late-1' ? 'late-2' : 'late-1';
    assert.equal(sentOnce(sentFirst), 1);
    assert.equal(sentOnce(other), 0, 'the request that could outlast the lease was not started');
    // Still claimed: invisible until the lease ends, then sent by the next round.
    assert.equal(await sendDueConversions({ ...options, now: () => claimedAt + 19_000 }), 0);
    assert.equal(await sendDueConversions({ ...options, now: () => claimedAt + 20_001 }), 1);
    assert.equal(sentOnce(other), 1);
    assert.equal(sentOnce(sentFirst), 1);
    assert.deepEqual(await outbox.counts(), { pending: 0, sent: 2, dead: 0 });
  });
});
