import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeCallbackData,
  encodeCallbackData,
  MAX_FLOW_VERSION,
  readCallbackVersion,
} from '../../src/telegram/callback-data.ts';
import { parseStartCommand } from '../../src/telegram/parse-start.ts';

describe('callback data', () => {
  it("round-trips and always fits Telegram's 64 bytes, even for 64-character step ids", () => {
    const stepId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    fc.assert(
      fc.property(
        stepId,
        fc.integer({ min: 1, max: MAX_FLOW_VERSION }),
        fc.integer({ min: 0, max: 19 }),
        (step, version, index) => {
          const data = encodeCallbackData({ version, step, index });
          assert.ok(Buffer.byteLength(data) <= 64);
          assert.deepEqual(
            decodeCallbackData(data, () => [step, `${step}x`]),
            { kind: 'click', version, step, index },
          );
        },
      ),
    );
  });

  it('"VIP" and "VIP Plus" buttons are told apart by step and index, never by text', () => {
    const a = encodeCallbackData({ version: 3, step: 'menu', index: 0 });
    const b = encodeCallbackData({ version: 3, step: 'menu', index: 1 });
    assert.notEqual(a, b);
    assert.deepEqual(
      decodeCallbackData(b, () => ['menu']),
      { kind: 'click', version: 3, step: 'menu', index: 1 },
    );
  });

  it('the paid button, foreign data and steps missing from the version', () => {
    assert.deepEqual(
      decodeCallbackData(encodeCallbackData({ kind: 'paid' }), () => []),
      { kind: 'paid' },
    );
    assert.equal(
      decodeCallbackData('buy_vip', () => ['menu']),
      null,
    );
    assert.deepEqual(
      decodeCallbackData(encodeCallbackData({ version: 2, step: 'gone', index: 0 }), () => ['menu']),
      {
        kind: 'unknown_step',
        version: 2,
        index: 0,
      },
    );
  });

  it('a version no published flow can have is not ours: forged data never reaches the store', () => {
    assert.equal(readCallbackVersion('c.zzzzzzz.0.0'), null, 'above the largest integer version');
    assert.equal(readCallbackVersion('c.0.0.0'), null, 'version 0 is never published');
    assert.equal(readCallbackVersion(`c.${(MAX_FLOW_VERSION + 1).toString(36)}.abc.0`), null);
    assert.equal(readCallbackVersion(`c.${MAX_FLOW_VERSION.toString(36)}.abc.0`), MAX_FLOW_VERSION);
    assert.equal(readCallbackVersion('c.1.abc'), null, 'malformed');
    assert.equal(
      decodeCallbackData('c.zzzzzzz.0.0', () => ['menu']),
      null,
    );
    assert.equal(
      decodeCallbackData('c.0.0.0', () => ['menu']),
      null,
    );
  });
});

describe('/start parsing', () => {
  it("follows Telegram's deep-link rules", () => {
    assert.deepEqual(parseStartCommand('/start'), {});
    assert.deepEqual(parseStartCommand('/start a1B2_c-3'), { payload: 'a1B2_c-3' });
    assert.deepEqual(parseStartCommand('/start@vip_bot tok'), { payload: 'tok' });
    assert.deepEqual(parseStartCommand(`/start ${'a'.repeat(64)}`), { payload: 'a'.repeat(64) });
    assert.deepEqual(parseStartCommand(`/start ${'a'.repeat(65)}`), {}, 'too long: no payload');
    assert.deepEqual(parseStartCommand('/start tok$en'), {}, 'bad characters: no payload');
    assert.equal(parseStartCommand('/started'), null);
    assert.equal(parseStartCommand('hello /start'), null);
  });
});
