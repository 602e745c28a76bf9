import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { createMailbox } from '../../src/runtime/mailbox.ts';

describe('mailbox', () => {
  it('runs jobs one at a time in arrival order', async () => {
    const box = createMailbox(100);
    const log: string[] = [];
    let running = 0;
    const jobs = Array.from({ length: 50 }, (_, i) =>
      box.post(async () => {
        running += 1;
        assert.equal(running, 1, 'never two at once');
        log.push(`start ${i}`);
        if (i % 3 === 0) await tick();
        log.push(`end ${i}`);
        running -= 1;
        return i;
      }),
    );
    assert.deepEqual(
      await Promise.all(jobs),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(log, Array.from({ length: 50 }, (_, i) => [`start ${i}`, `end ${i}`]).flat());
  });

  it('a failing job rejects its caller only; later jobs still run', async () => {
    const box = createMailbox(10);
    const first = box.post(async () => {
      throw new Error('boom');
    });
    const second = box.post(async () => 'ok');
    await assert.rejects(first, /boom/);
    assert.equal(await second, 'ok');
    assert.equal(box.depth, 0);
  });

  it('refuses with a retryable MAILBOX_FULL beyond its capacity and keeps what it accepted', async () => {
    const box = createMailbox(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = box.post(() => gate.then(() => 'a'));
    const b = box.post(async () => 'b');
    await assert.rejects(
      box.post(async () => 'c'),
      (e: unknown) => {
        return e instanceof BotflowError && e.code === 'MAILBOX_FULL' && e.retryable;
      },
    );
    release();
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    assert.equal(await box.post(async () => 'd'), 'd');
  });
});
