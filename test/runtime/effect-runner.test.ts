import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import type { FlowEvent } from '../../src/flow/types.ts';
import type { Dispatch, KeyedEffect } from '../../src/runtime/conversation-host.ts';
import {
  createEffectRunner,
  type EffectHandler,
  type EffectOutbox,
} from '../../src/runtime/effect-runner.ts';

/** An in-memory outbox that records every mark, and can fail the first `failDone` done-marks. */
function recordingOutbox(failDone = 0) {
  const done: string[] = [];
  const failed: Array<{ key: string; dead: boolean; error: string }> = [];
  let toFail = failDone;
  const outbox: EffectOutbox = {
    async markDone(key) {
      if (toFail > 0) {
        toFail -= 1;
        throw new BotflowError('STORE_UNAVAILABLE', 'database down');
      }
      done.push(key);
    },
    async markFailed(key, failure) {
      failed.push({ key, dead: failure.dead, error: failure.error });
    },
  };
  return { outbox, done, failed };
}

const send = (key: string, userId = '1', text = key): KeyedEffect => ({
  key,
  botId: 'b',
  userId,
  flowVersion: 1,
  effect: { type: 'send', step: 's', message: { text } },
});
const charge = (key: string): KeyedEffect => ({
  key,
  botId: 'b',
  userId: '1',
  flowVersion: 1,
  effect: {
    type: 'createCharge',
    step: 'pay',
    order: 'pay:1',
    amount_cents: 1990,
    description: 'VIP',
    expires_in_minutes: 30,
    offer: null,
  },
});
const FAST = { baseMs: 1, maxMs: 5, maxAttempts: 3 };

describe('effect runner', () => {
  // The runner's backoff timers are unref'd (they must not hold a stopping process open): keep this one up.
  let keepAlive: NodeJS.Timeout;
  before(() => {
    keepAlive = setInterval(() => {}, 1000);
  });
  after(() => clearInterval(keepAlive));

  it("runs one chat's effects in commit order and chats in parallel", async () => {
    const order: string[] = [];
    const slow = new Map([['a1', 30]]);
    const handler: EffectHandler = async (item) => {
      await new Promise((r) => setTimeout(r, slow.get(item.key) ?? 1));
      order.push(item.key);
      return null;
    };
    const { outbox, done } = recordingOutbox();
    const runner = createEffectRunner({
      handlers: { send: handler },
      outbox,
      dispatch: async () => {},
      now: Date.now,
    });
    runner.enqueue([send('a1', '1'), send('a2', '1'), send('b1', '2')]);
    await runner.idle();
    assert.deepEqual(
      order.filter((k) => k.startsWith('a')),
      ['a1', 'a2'],
      'the slow first message still goes first in its chat',
    );
    assert.ok(order.indexOf('b1') < order.indexOf('a1'), 'another chat does not wait for it');
    assert.deepEqual([...done].sort(), ['a1', 'a2', 'b1']);
  });

  it('a done effect whose mark fails is marked again, never sent again', async () => {
    let sends = 0;
    const { outbox, done } = recordingOutbox(2);
    const runner = createEffectRunner({
      handlers: {
        send: async () => {
          sends += 1;
          return null;
        },
      },
      outbox,
      dispatch: async () => {},
      now: Date.now,
      retry: FAST,
    });
    runner.enqueue([send('k1')]);
    await runner.idle();
    assert.equal(sends, 1);
    assert.deepEqual(done, ['k1'], 'idle waits for the mark, which the third try recorded');
  });

  it('after five failed marks it reports the effect and leaves it pending', async () => {
    const { outbox, done } = recordingOutbox(99);
    const reported: string[] = [];
    const runner = createEffectRunner({
      handlers: { send: async () => null },
      outbox,
      dispatch: async () => {},
      now: Date.now,
      retry: FAST,
      onMarkFailed: (item) => reported.push(item.key),
    });
    runner.enqueue([send('k2')]);
    await runner.idle();
    assert.deepEqual(done, []);
    assert.deepEqual(reported, ['k2']);
  });

  it('retries a transient failure, records a permanent one as dead, and reports both', async () => {
    let calls = 0;
    const { outbox, done, failed } = recordingOutbox();
    const failures: Array<[string, boolean]> = [];
    const runner = createEffectRunner({
      handlers: {
        send: async (item) => {
          calls += 1;
          if (item.key === 'flaky' && calls === 1) throw new BotflowError('UPSTREAM_FAILED', 'timeout');
          if (item.key === 'bad') throw new BotflowError('UPSTREAM_REJECTED', 'chat not found');
          return null;
        },
      },
      outbox,
      dispatch: async () => {},
      now: () => 1000,
      retry: FAST,
      onFailure: (item, _error, dead) => failures.push([item.key, dead]),
    });
    runner.enqueue([send('flaky', '1'), send('bad', '2')]);
    await runner.idle();
    assert.deepEqual(done, ['flaky']);
    assert.deepEqual(
      failed.map((f) => [f.key, f.dead, f.error]),
      [
        ['flaky', false, 'UPSTREAM_FAILED: timeout'],
        ['bad', true, 'UPSTREAM_REJECTED: chat not found'],
      ],
    );
    assert.deepEqual(failures, [
      ['flaky', false],
      ['bad', true],
    ]);
  });

  it("feeds a charge's result back to its conversation, and tells it when the charge fails for good", async () => {
    const dispatched: Dispatch[] = [];
    const created: FlowEvent = {
      type: 'payment.created',
      order: 'pay:1',
      charge_id: 'ch1',
      br_code: '000201',
    };
    let failNext = false;
    const { outbox, done } = recordingOutbox();
    const runner = createEffectRunner({
      handlers: {
        createCharge: async () => {
          if (failNext) throw new BotflowError('UPSTREAM_REJECTED', 'gateway refused');
          return created;
        },
      },
      outbox,
      dispatch: async (input) => {
        dispatched.push(input);
      },
      now: Date.now,
      retry: FAST,
    });
    runner.enqueue([charge('c1')]);
    await runner.idle();
    assert.deepEqual(dispatched.at(-1)?.event, created);
    assert.equal(dispatched.at(-1)?.inputKey, 'effect:c1');
    assert.deepEqual(done, ['c1']);
    failNext = true;
    runner.enqueue([charge('c2')]);
    await runner.idle();
    assert.deepEqual(dispatched.at(-1)?.event, {
      type: 'payment.create_failed',
      order: 'pay:1',
      reason: 'UPSTREAM_REJECTED',
    });
    assert.equal(dispatched.at(-1)?.inputKey, 'effect-failed:c2');
    assert.deepEqual(done, ['c1'], 'a dead charge is not marked done');
  });

  it('when handing the result back fails, the handler runs again before the effect counts as done', async () => {
    let handled = 0;
    let dispatches = 0;
    const { outbox, done } = recordingOutbox();
    const runner = createEffectRunner({
      handlers: {
        createCharge: async () => {
          handled += 1;
          return { type: 'payment.created', order: 'pay:1', charge_id: 'ch1', br_code: '000201' };
        },
      },
      outbox,
      dispatch: async () => {
        dispatches += 1;
        if (dispatches === 1) throw new BotflowError('STORE_UNAVAILABLE', 'database down');
      },
      now: Date.now,
      retry: FAST,
    });
    runner.enqueue([charge('c3')]);
    await runner.idle();
    assert.equal(handled, 2);
    assert.equal(dispatches, 2);
    assert.deepEqual(done, ['c3']);
  });
});
