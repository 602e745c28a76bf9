import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { startJobLoop } from '../../src/jobs/start-job-loop.ts';
import { waitFor } from '../support/wait-for.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startJobLoop', () => {
  it('never runs two rounds at once, and stop waits for the round in progress', async () => {
    let running = 0;
    let most = 0;
    let rounds = 0;
    let finished = 0;
    const loop = startJobLoop(
      async () => {
        running += 1;
        most = Math.max(most, running);
        rounds += 1;
        await sleep(30);
        running -= 1;
        finished += 1;
      },
      5,
      pino({ level: 'silent' }),
    );
    // A timer that keeps the test process up while the loop's own (unref'd) timer ticks.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await waitFor('three rounds', () => rounds >= 3);
      await loop.stop();
      assert.equal(most, 1, 'rounds never overlap although the period is shorter than a round');
      assert.equal(finished, rounds, 'stop returned only after the round in progress finished');
      const stoppedAt = rounds;
      await sleep(50);
      assert.equal(rounds, stoppedAt, 'no round after stop');
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('logs a failed round with its code and runs the next one', async () => {
    const logged: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    let rounds = 0;
    const loop = startJobLoop(
      async () => {
        rounds += 1;
        if (rounds === 1) throw Object.assign(new Error('down'), { code: 'STORE_UNAVAILABLE' });
      },
      5,
      logger,
    );
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await waitFor('a round after the failure', () => rounds >= 2);
      await loop.stop();
      assert.ok(
        logged.some((l) => (l as { msg?: string; code?: string }).code === 'STORE_UNAVAILABLE'),
        JSON.stringify(logged),
      );
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('with a period of 0 runs nothing by itself', async () => {
    let rounds = 0;
    const loop = startJobLoop(async () => void (rounds += 1), 0, pino({ level: 'silent' }));
    await sleep(20);
    await loop.stop();
    assert.equal(rounds, 0);
  });
});
