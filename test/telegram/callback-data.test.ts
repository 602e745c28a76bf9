import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hashId } from '../../src/flow/hash-id.ts';
import {
  decodeCallbackData,
  encodeCallbackData,
  MAX_FLOW_VERSION,
} from '../../src/telegram/callback-data.ts';
import { parseStartCommand } from '../../src/telegram/parse-start.ts';

describe('callback data', () => {
  const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);

  it("round-trips flow, version, step and index, and always fits Telegram's 64 bytes, even for 64-character ids", () => {
    fc.assert(
      fc.property(
        id,
        id,
        fc.integer({ min: 1, max: MAX_FLOW_VERSION }),
        fc.integer({ min: 0, max: 19 }),
        (flow, step, version, index) => {
          const data = encodeCallbackData({ flow, version, step, index });
          assert.ok(Buffer.byteLength(data) <= 64, data);
          assert.deepEqual(decodeCallbackData(data), {
            kind: 'click',
            flow: hashId(flow),
            version,
            step: hashId(step),
            index,
          });
        },
      ),
    );
  });

  it('data rendered before buttons named their flow still decodes, with no flow', () => {
    const old = encodeCallbackData({ version: 3, step: 'menu', index: 1 });
    assert.equal(old, `c.3.${hashId('menu')}.1`, 'the format already in chats');
    assert.deepEqual(decodeCallbackData(old), {
      kind: 'click',
      flow: null,
      version: 3,
      step: hashId('menu'),
      index: 1,
    });
  });

  it('the same step and version of two flows are different buttons', () => {
    const x = encodeCallbackData({ flow: 'flow-x', version: 1, step: 'offers', index: 0 });
    const y = encodeCallbackData({ flow: 'flow-y', version: 1, step: 'offers', index: 0 });
    assert.notEqual(x, y);
    assert.equal(x, `c.${hashId('flow-x')}.1.${hashId('offers')}.0`);
  });

  it('"VIP" and "VIP Plus" buttons are told apart by step and index, never by text', () => {
    const a = encodeCallbackData({ flow: 'f', version: 3, step: 'menu', index: 0 });
    const b = encodeCallbackData({ flow: 'f', version: 3, step: 'menu', index: 1 });
    assert.notEqual(a, b);
    assert.deepEqual(decodeCallbackData(b), {
      kind: 'click',
      flow: hashId('f'),
      version: 3,
      step: hashId('menu'),
      index: 1,
    });
  });

  it('the paid button; foreign, malformed or forged data is not ours', () => {
    assert.deepEqual(decodeCallbackData(encodeCallbackData({ kind: 'paid' })), { kind: 'paid' });
    for (const data of [
      'buy_vip',
      'c.1.abc', // too few parts
      'c.a.b.1.abc.0', // too many
      'c.zzzzzzz.0.0', // above the largest integer version
      'c.0.0.0', // version 0 is never published
      `c.${(MAX_FLOW_VERSION + 1).toString(36)}.abc.0`,
      'c.f.0.abc.0',
      'c.zzzzzzzz.1.abc.0', // a tag longer than any hash
      'c.f.1.abc.zzz', // an index beyond any keyboard
      'C.1.abc.0',
    ]) {
      assert.equal(decodeCallbackData(data), null, data);
    }
    assert.equal(decodeCallbackData(`c.${MAX_FLOW_VERSION.toString(36)}.abc.0`)?.kind, 'click');
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
