/**
 * A click's PageView lands in the real Postgres outbox once, only for a bot with a pixel, never failing
 * the click; one the outbox could not take while Postgres did not answer is added once it does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { BotflowError } from '../../src/errors.ts';
import { createConversionOutbox } from '../../src/db/conversion-outbox.ts';
import { createPageViewRecorder } from '../../src/meta/record-page-view.ts';
import type { ClickPayload } from '../../src/tracking/click.ts';
import { buildPageViewRow } from '../../src/tracking/conversion-rows.ts';
import type { PixelSettings } from '../../src/tracking/pixel-settings.ts';
import { useMigratedDatabase } from '../db/fresh-database.ts';

const PIXEL: PixelSettings = { pixel_id: 'px-pv', access_token: 'meta-secret' };
const linkUrl = (slug: string) => `https://bots.example/r/${slug}`;
const click = (botId: string): ClickPayload => ({
  bot_id: botId,
  slug: 'ad',
  created_at: 1_700_000_000_000,
  fbp: 'fb.1.1.2',
});
const database = useMigratedDatabase();

describe('createPageViewRecorder', () => {
  it("queues the click's PageView with its bot once; nothing for a bot without a pixel or when the pixel cannot be read", async () => {
    const logged: string[] = [];
    const record = createPageViewRecorder({
      pixelOf: async (botId) => {
        if (botId === 'broken') throw new Error('settings down');
        return botId === 'with-pixel' ? PIXEL : null;
      },
      outbox: createConversionOutbox(database.db.orm),
      linkUrl,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }),
    });
    const token = 'a'.repeat(32);
    await record.record(token, click('with-pixel'));
    await record.record(token, click('with-pixel'));
    await record.record('b'.repeat(32), click('no-pixel'));
    await record.record('c'.repeat(32), click('broken'));
    const rows = await database.sql<{
      event_id: string;
      pixel_id: string;
      bot_id: string;
      payload: unknown;
    }>(`select event_id, pixel_id, bot_id, payload from conversion_events`);
    const expected = buildPageViewRow({ pixel: PIXEL, token, click: click('with-pixel'), linkUrl });
    assert.deepEqual(rows, [
      { event_id: expected.eventId, pixel_id: 'px-pv', bot_id: 'with-pixel', payload: expected.payload },
    ]);
    assert.deepEqual(logged, []);
  });

  it('logs an outbox that refuses the row for good instead of failing the click', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const record = createPageViewRecorder({
      pixelOf: async () => PIXEL,
      outbox: {
        add: () => Promise.reject(new BotflowError('BAD_REQUEST', 'the database refused the data')),
      },
      linkUrl,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
    });
    await record.record('d'.repeat(32), click('with-pixel'));
    assert.deepEqual(
      logged.map((l) => l['msg']),
      ['PageView not recorded'],
    );
  });

  it('keeps the PageViews of clicks answered while Postgres did not answer, and adds each once it does', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const outbox = createConversionOutbox(database.db.orm);
    let refusals = 3;
    const record = createPageViewRecorder({
      pixelOf: async () => PIXEL,
      // The real outbox, behind the error it answers while Postgres cannot be reached.
      outbox: {
        add: (row) =>
          refusals-- > 0
            ? Promise.reject(new BotflowError('STORE_UNAVAILABLE', 'Postgres did not answer'))
            : outbox.add(row),
      },
      linkUrl,
      logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
      retryDelaysMs: [20, 40],
    });
    const tokens = ['e', 'f'].map((c) => c.repeat(32));
    for (const token of tokens) await record.record(token, click('with-pixel'));
    const eventIds = tokens.map(
      (token) => buildPageViewRow({ pixel: PIXEL, token, click: click('with-pixel'), linkUrl }).eventId,
    );
    const stored = () =>
      database.sql<{ event_id: string }>(
        `select event_id from conversion_events where event_id = any($1::text[]) order by event_id`,
        [eventIds],
      );
    for (let i = 0; i < 100 && (await stored()).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      (await stored()).map((r) => r.event_id),
      [...eventIds].sort(),
    );
    const messages = logged.map((l) => l['msg']);
    assert.equal(messages.filter((m) => m === 'PageView not recorded yet: kept to try again').length, 2);
    assert.ok(messages.includes('PageViews still waiting'), 'the first retry met the outage too');
    assert.equal(messages.at(-1), 'waiting PageViews recorded');
    record.close();
    assert.equal(logged.length, messages.length, 'nothing was left to lose at close');
  });

  it('keeps at most maxWaiting PageViews, dropping the oldest with a warning, until it is closed', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const record = createPageViewRecorder({
      pixelOf: async () => PIXEL,
      outbox: { add: () => Promise.reject(new BotflowError('STORE_UNAVAILABLE', 'Postgres did not answer')) },
      linkUrl,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
      retryDelaysMs: [60_000],
      maxWaiting: 2,
    });
    const tokens = ['1', '2', '3'].map((c) => c.repeat(32));
    for (const token of tokens) await record.record(token, click('with-pixel'));
    const dropped = logged.filter((l) => l['msg'] === 'PageView dropped: too many waiting for Postgres');
    assert.deepEqual(
      dropped.map((l) => l['event_id']),
      [buildPageViewRow({ pixel: PIXEL, token: tokens[0]!, click: click('with-pixel'), linkUrl }).eventId],
    );
    record.close();
    const lost = logged.find((l) => l['msg'] === 'PageViews still waiting at shutdown: lost');
    assert.equal(lost?.['lost'], 2, 'closing stops the retries and says what they still held');
  });
});
