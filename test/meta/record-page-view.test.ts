/** A click's PageView lands in the real Postgres outbox once, only for a bot with a pixel, never failing the click. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
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
    await record(token, click('with-pixel'));
    await record(token, click('with-pixel'));
    await record('b'.repeat(32), click('no-pixel'));
    await record('c'.repeat(32), click('broken'));
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

  it('logs an outbox that refuses the row instead of failing the click', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const record = createPageViewRecorder({
      pixelOf: async () => PIXEL,
      outbox: {
        add: () => Promise.reject(Object.assign(new Error('db down'), { code: 'STORE_UNAVAILABLE' })),
      },
      linkUrl,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
    });
    await record('d'.repeat(32), click('with-pixel'));
    assert.deepEqual(
      logged.map((l) => l['msg']),
      ['PageView not recorded'],
    );
  });
});
