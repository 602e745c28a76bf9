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
    async markDone(keys) {
      if (toFail > 0) {
        toFail -= 1;
        throw new BotflowError('STORE_UNAVAILABLE', 'database down');
      }
      done.push(...keys);
    },
    async markFailed(key, failure) {
      failed.push({ key, dead: failure.dead, error: failure.error });
    },
  };
  return { outbox, done, failed };
}

/** An outbox that refuses every write while `down` (Postgres unreachable), counting what it refused. */
function outageOutbox() {
  const store = {
    down: false,
    refused: 0,
    doneStatements: 0,
    done: [] as string[],
    dead: [] as string[],
    outbox: undefined as unknown as EffectOutbox,
  };
  const refuse = () => {
    store.refused += 1;
    throw new BotflowError('STORE_UNAVAILABLE', 'the database did not answer');
  };
  store.outbox = {
    async markDone(keys) {
      if (store.down) refuse();
      store.doneStatements += 1;
      store.done.push(...keys);
    },
    async markFailed(key, failure) {
      if (store.down) refuse();
      if (failure.dead) store.dead.push(key);
    },
  };
  return store;
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

/** A runner over a recording outbox with fast retries, collecting what it dispatches to conversations. */
function startRecordingRunner(
  options: Pick<Parameters<typeof createEffectRunner>[0], 'handlers' | 'giveUpEvents'>,
) {
  const dispatched: Dispatch[] = [];
  const recording = recordingOutbox();
  const runner = createEffectRunner({
    ...options,
    outbox: recording.outbox,
    dispatch: async (input) => {
      dispatched.push(input);
    },
    now: Date.now,
    retry: FAST,
  });
  return { runner, dispatched, ...recording };
}

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

  it('keeps retrying outcomes while the outbox is down, and never runs the effect again meanwhile', async () => {
    const store = outageOutbox();
    const sent: string[] = [];
    const reported: unknown[] = [];
    let recovered = 0;
    const runner = createEffectRunner({
      handlers: {
        send: async (item) => {
          sent.push(item.key);
          return null;
        },
        notice: async () => {
          throw new BotflowError('UPSTREAM_REJECTED', 'chat not found');
        },
      },
      outbox: store.outbox,
      dispatch: async () => {},
      now: Date.now,
      retry: FAST,
      markEveryMs: 5,
      onMarkFailed: (error) => reported.push(error),
      onMarkRecovered: () => (recovered += 1),
    });
    store.down = true;
    const notice: KeyedEffect = { ...send('n1', '2'), effect: { type: 'notice', text: 'x' } as never };
    runner.enqueue([send('k2'), send('k3'), notice]);
    // Well past the old five tries; meanwhile the outbox still lists them as pending, and every read
    // of it (a sweep) hands them back: none runs again.
    await new Promise((r) => setTimeout(r, 150));
    for (let i = 0; i < 5; i++) {
      runner.recover([send('k2'), send('k3'), notice], runner.checkpoint());
      runner.enqueue([send('k2')]);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(store.refused >= 6, `marks were retried (${store.refused} refused)`);
    assert.equal(reported.length, 1, 'one report for the whole outage');
    assert.ok(runner.pending > 0, 'not idle while outcomes are unrecorded');
    store.down = false;
    await runner.idle();
    assert.deepEqual(sent, ['k2', 'k3'], 'each handler ran once');
    assert.deepEqual([...store.done].sort(), ['k2', 'k3']);
    assert.deepEqual(store.dead, ['n1'], 'the dead outcome is recorded too');
    assert.equal(recovered, 1);
    assert.ok(
      store.doneStatements <= 2,
      `done-marks of one tick go in one statement (${store.doneStatements})`,
    );
  });

  it('a store outage in a handler is waited out without counting attempts: no dead charge', async () => {
    const { outbox, done, failed } = recordingOutbox();
    const dispatched: Dispatch[] = [];
    const outages: unknown[] = [];
    let calls = 0;
    const runner = createEffectRunner({
      handlers: {
        createCharge: async () => {
          calls += 1;
          if (calls <= 10) throw new BotflowError('STORE_UNAVAILABLE', 'the database did not answer');
          return { type: 'payment.created', order: 'pay:1', charge_id: 'ch1', br_code: '000201' };
        },
      },
      outbox,
      dispatch: async (input) => {
        dispatched.push(input);
      },
      now: Date.now,
      retry: FAST,
      onStoreOutage: (error) => outages.push(error),
    });
    runner.enqueue([charge('c9')]);
    await runner.idle();
    assert.equal(calls, 11, 'ten outage failures, more than maxAttempts (3), then success');
    assert.deepEqual(
      dispatched.map((d) => d.event?.type),
      ['payment.created'],
      'never payment.create_failed',
    );
    assert.deepEqual(failed, [], 'no attempt recorded against the effect, and it is not dead');
    assert.deepEqual(done, ['c9']);
    assert.equal(outages.length, 10);
  });

  it('wake ends the waits for the store at once', async () => {
    let calls = 0;
    const { outbox, done } = recordingOutbox();
    const runner = createEffectRunner({
      handlers: {
        send: async () => {
          calls += 1;
          if (calls === 1) throw new BotflowError('STORE_UNAVAILABLE', 'redis down');
          return null;
        },
      },
      outbox,
      dispatch: async () => {},
      now: Date.now,
      retry: { baseMs: 60_000, maxMs: 60_000, maxAttempts: 3 },
      random: () => 1,
    });
    runner.enqueue([send('w1')]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls, 1, 'waiting a minute for the store');
    const started = Date.now();
    runner.wake();
    await runner.idle();
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(done, ['w1']);
  });

  it('an outbox read that started before a record does not run that effect again', async () => {
    let sends = 0;
    const { outbox, done } = recordingOutbox();
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
      markEveryMs: 1,
    });
    const since = runner.checkpoint(); // a sweep's read starts: it will still see r1 as pending
    runner.enqueue([send('r1')]);
    await runner.idle();
    assert.deepEqual(done, ['r1']);
    runner.recover([send('r1')], since);
    await runner.idle();
    assert.equal(sends, 1, 'the stale read is skipped');
    // A read that started after the record would not list r1; one that does (someone reset it) runs it.
    runner.recover([], runner.checkpoint());
    runner.recover([send('r1')], runner.checkpoint());
    await runner.idle();
    assert.equal(sends, 2);
  });

  it('leaves the effects of a conversation it no longer owns to their new owner', async () => {
    const sent: string[] = [];
    const { outbox, done, failed } = recordingOutbox();
    let owned = true;
    const runner = createEffectRunner({
      handlers: {
        send: async (item) => {
          sent.push(item.key);
          owned = false; // the shard moves to another worker while the first message is sent
          return null;
        },
      },
      outbox,
      dispatch: async () => {},
      now: Date.now,
      owns: () => owned,
    });
    runner.enqueue([send('o1'), send('o2'), send('o3')]);
    await runner.idle();
    assert.deepEqual(sent, ['o1'], 'the queued ones are not run here');
    assert.deepEqual(done, ['o1']);
    assert.deepEqual(failed, [], 'nor marked: they stay pending in the outbox');
    owned = true;
    runner.enqueue([send('o2')]);
    await runner.idle();
    assert.deepEqual(sent, ['o1', 'o2'], 'a later read (the shard came back) runs them');
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

  it("feeds an effect's result back to its conversation, and its registered give-up event when it fails for good", async () => {
    const created: FlowEvent = {
      type: 'payment.created',
      order: 'pay:1',
      charge_id: 'ch1',
      br_code: '000201',
    };
    let failNext = false;
    const { runner, dispatched, done } = startRecordingRunner({
      handlers: {
        createCharge: async () => {
          if (failNext) throw new BotflowError('UPSTREAM_REJECTED', 'gateway refused');
          return created;
        },
      },
      giveUpEvents: {
        createCharge: (item, error) => ({
          type: 'payment.create_failed',
          order: item.key,
          reason: error.code,
        }),
      },
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
      order: 'c2',
      reason: 'UPSTREAM_REJECTED',
    });
    assert.equal(dispatched.at(-1)?.inputKey, 'effect-failed:c2');
    assert.deepEqual(done, ['c1'], 'a dead charge is not marked done');
  });

  it('tells the conversation nothing when an effect without a give-up event fails for good', async () => {
    const { runner, dispatched, failed } = startRecordingRunner({
      handlers: {
        createCharge: async () => {
          throw new BotflowError('UPSTREAM_REJECTED', 'gateway refused');
        },
      },
    });
    runner.enqueue([charge('c3')]);
    await runner.idle();
    assert.deepEqual(dispatched, []);
    assert.deepEqual(
      failed.filter((f) => f.dead).map((f) => f.key),
      ['c3'],
      'given up and recorded dead',
    );
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

  it('tells a handler its first run of an effect this process committed, and no other run', async () => {
    const runs: Array<[string, boolean | undefined]> = [];
    let fail = true;
    const { outbox } = recordingOutbox();
    const runner = createEffectRunner({
      handlers: {
        createCharge: async (item, run) => {
          runs.push([item.key, run?.firstRun]);
          if (item.key === 'c4' && fail) {
            fail = false;
            throw new BotflowError('UPSTREAM_FAILED', 'gateway hiccup');
          }
          return null;
        },
      },
      outbox,
      dispatch: async () => {},
      now: Date.now,
      retry: FAST,
    });
    // Committed here: first run, then (after a failure) a retry that is not one.
    runner.enqueue([charge('c4')]);
    // Found by an outbox read: it may have run elsewhere before.
    runner.recover([charge('c5')], runner.checkpoint());
    await runner.idle();
    // One conversation: c5 waits for c4 to finish.
    assert.deepEqual(runs, [
      ['c4', true],
      ['c4', false],
      ['c5', false],
    ]);
  });
});
