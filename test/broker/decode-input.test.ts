import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeInput } from '../../src/broker/decode-input.ts';

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('decodeInput', () => {
  it('reads a dispatch as the router publishes it', () => {
    const input = {
      botId: 'b',
      userId: '7',
      event: { type: 'text', text: 'hi' },
      inputKey: 'tg:b:1',
      records: [{ kind: 'bindTracking', token: null, payload: null, fbclid: null }],
      timer: { timerId: 't1', dueAt: 5 },
    };
    assert.deepEqual(decodeInput(body(input)), input);
    assert.deepEqual(decodeInput(body({ botId: 'b', userId: '7', event: { type: 'start' } })), {
      botId: 'b',
      userId: '7',
      event: { type: 'start' },
    });
  });

  it('reads an input without an event: effects and records decided at the edge', () => {
    const input = {
      botId: 'b',
      userId: '7',
      effects: [{ type: 'send', text: 'hi' }],
      records: [{ kind: 'joined', orderId: 'o1' }],
      inputKey: 'tg:b:2',
    };
    assert.deepEqual(decodeInput(body(input)), input);
  });

  it('anything else is null, never a throw', () => {
    for (const bad of [
      Buffer.from('not json'),
      Buffer.alloc(0),
      body(null),
      body([1]),
      body({ userId: '7', event: { type: 'start' } }),
      body({ botId: 'b', userId: 7, event: { type: 'start' } }),
      body({ botId: 'b', userId: '7' }),
      body({ botId: 'b', userId: '7', effects: {} }),
      body({ botId: 'b', userId: '7', event: { text: 'no type' } }),
      body({ botId: 'b', userId: '7', event: { type: 'start' }, inputKey: 3 }),
      body({ botId: 'b', userId: '7', event: { type: 'start' }, records: {} }),
      body({ botId: 'b', userId: '7', event: { type: 'start' }, timer: 'soon' }),
    ])
      assert.equal(decodeInput(bad), null, bad.toString());
  });
});
