import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { startOutboxSweeper } from '../../src/runtime/outbox-sweeper.ts';
import { waitFor } from '../support/wait-for.ts';

const effect = (key: string): KeyedEffect => ({
  key,
  botId: 'b',
  userId: '1',
  flowVersion: 1,
  effect: { type: 'send', step: 's', message: { text: key } },
});

/** A runner stand-in that records what the sweeper hands it. */
function recordingRunner() {
  const calls = { recovered: [] as Array<{ keys: string[]; since: number }>, wakes: 0, checkpoint: 7 };
  return {
    calls,
    runner: {
      recover: (effects: KeyedEffect[], since: number) =>
        void calls.recovered.push({ keys: effects.map((e) => e.key), since }),
      checkpoint: () => calls.checkpoint,
      wake: () => void (calls.wakes += 1),
    },
  };
}

describe('outbox sweeper', () => {
  it("reads the owned shards' due effects and hands them over with the checkpoint taken before the read", async () => {
    const { calls, runner } = recordingRunner();
    const reads: Array<{ shards: readonly number[]; now: number; limit: number }> = [];
    const sweeper = startOutboxSweeper({
      read: async (shards, now, limit) => {
        reads.push({ shards, now, limit });
        calls.checkpoint = 99; // a record landing during the read must not count as seen by it
        return [effect('a'), effect('b')];
      },
      runner,
      shards: () => [1, 2],
      now: () => 1234,
      intervalMs: 0,
      batch: 50,
    });
    assert.equal(await sweeper.sweepOnce(), 2);
    assert.deepEqual(reads, [{ shards: [1, 2], now: 1234, limit: 50 }]);
    assert.deepEqual(calls.recovered, [{ keys: ['a', 'b'], since: 7 }]);
    await sweeper.stop();
  });

  it('sweepIn sweeps once after the given delay, even without a loop', async () => {
    const { calls, runner } = recordingRunner();
    const sweeper = startOutboxSweeper({
      read: async () => [effect('handed-over')],
      runner,
      shards: () => [0],
      now: Date.now,
      intervalMs: 0,
    });
    sweeper.sweepIn(30);
    assert.equal(calls.recovered.length, 0, 'not at once');
    await waitFor('the delayed sweep', () => calls.recovered.length === 1);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls.recovered.length, 1, 'and only once');
    await sweeper.stop();
  });

  it('through an outage: reports it once, probes often, and on recovery sweeps and wakes the runner', async () => {
    const { calls, runner } = recordingRunner();
    let down = true;
    let reads = 0;
    const outages: unknown[] = [];
    let recovered = 0;
    const sweeper = startOutboxSweeper({
      read: async () => {
        reads += 1;
        if (down) throw new BotflowError('STORE_UNAVAILABLE', 'the database did not answer');
        return [effect('left-by-the-outage')];
      },
      runner,
      shards: () => [0],
      now: Date.now,
      intervalMs: 60_000,
      outageIntervalMs: 10,
      onOutage: (error) => outages.push(error),
      onRecovered: () => (recovered += 1),
    });
    // The runner met the outage first (a failed done-mark): the sweeper starts probing at once.
    sweeper.noticeOutage(new BotflowError('STORE_UNAVAILABLE', 'mark failed'));
    await waitFor('several probes', () => reads >= 5);
    sweeper.noticeOutage(new BotflowError('STORE_UNAVAILABLE', 'again'));
    assert.equal(outages.length, 1, 'one report per outage');
    assert.equal(calls.wakes, 0);
    down = false;
    await waitFor('the sweep after recovery', () => calls.recovered.length === 1);
    assert.deepEqual(calls.recovered[0]!.keys, ['left-by-the-outage']);
    assert.equal(recovered, 1);
    assert.equal(calls.wakes, 1, 'the runner retries at once');
    const after = reads;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reads, after, 'back to the normal period once the store answers');
    await sweeper.stop();
  });
});
