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
import { sendDueConversions } from '../../src/tracking/send-conversions.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const PIXEL = '777000777';
const TOKEN = 'meta-sender-test-token';
let fresh: FreshDatabase;
let db: DatabaseHandle;
let graph: FakeGraphApi;
before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  graph = await startFakeGraphApi({ tokens: [TOKEN] });
});
after(async () => {
  await graph.close();
  await db.close();
  await fresh.drop();
});

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
      await outbox.add({ eventId: row.eventId, pixelId: PIXEL, payload: row.payload });

    const handled = await sendDueConversions({
      outbox,
      pixelSettings: async (id) => (id === PIXEL ? { pixel_id: PIXEL, access_token: TOKEN } : null),
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
});
