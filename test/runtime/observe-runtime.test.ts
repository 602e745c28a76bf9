import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { createRuntimeObservers } from '../../src/runtime/observe-runtime.ts';

/** Observers over a real metrics registry and a logger writing into an array. */
function observe() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const metrics = createMetrics();
  const reported: Array<[string, unknown]> = [];
  const observers = createRuntimeObservers({
    metrics,
    logger: createLogger({ level: 'info', destination }),
    hostStats: () => ({ activeActors: 7, queued: 2 }),
    onDispatched: (input, _seconds, error) => reported.push([input.event?.type ?? 'effects', error]),
  });
  const sample = async (name: string) =>
    new RegExp(`^${name} (\\S+)$`, 'm').exec(await metrics.registry.metrics())?.[1];
  return { observers, lines, sample, reported };
}

describe('the runtime observers (real metrics registry, real logger)', () => {
  it('count committed batches and set the actor and mailbox gauges', async () => {
    const { observers, sample } = observe();
    observers.host.onBatch!(3, 0.004);
    observers.host.onBatch!(2, 0.002);
    assert.equal(await sample('botflow_transitions_total'), '5');
    assert.equal(await sample('botflow_active_actors'), '7');
    assert.equal(await sample('botflow_mailbox_depth'), '2');
  });

  it('count finished inputs by kind, log a failed one with its code, and pass each on', async () => {
    const { observers, lines, reported } = observe();
    const input = { botId: 'b', userId: '1', event: { type: 'text' as const, text: 'x' } };
    const failure = new BotflowError('STORE_UNAVAILABLE', 'down');
    observers.host.onDispatched!(input, null, 0.01, failure);
    assert.deepEqual(reported, [['text', failure]]);
    assert.deepEqual(
      lines.map((l) => [l['msg'], l['code'], l['bot_id']]),
      [['event failed', 'STORE_UNAVAILABLE', 'b']],
    );
  });

  it('count failed effects by type and finality, and log store outages with their code', async () => {
    const { observers, lines, sample } = observe();
    const effect = {
      key: 'k',
      botId: 'b',
      userId: '1',
      flowVersion: 1,
      effect: { type: 'send' },
    } as KeyedEffect;
    observers.effects.onFailure!(effect, new BotflowError('UPSTREAM_FAILED', 'x'), false);
    observers.timers.onOutage!(new Error('econnrefused'));
    observers.sweeper.onRecovered!();
    assert.deepEqual(
      lines.map((l) => l['msg']),
      [
        'effect failed',
        'store unavailable: timers fire when it answers',
        'store available again: effects resume',
      ],
    );
    assert.equal(lines[1]!['code'], 'STORE_UNAVAILABLE');
    assert.equal(await sample('botflow_effect_failures_total\\{type="send",final="false"\\}'), '1');
  });
});
