import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import {
  createMemoryFlowChangeBus,
  createRedisFlowChangeBus,
  type FlowChangeBus,
} from '../../src/stores/flow-change-bus.ts';
import { waitFor } from '../support/wait-for.ts';

const REDIS_URL = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';

/** One contract, run against every implementation. */
function contract(name: string, make: () => { a: FlowChangeBus; b: FlowChangeBus }) {
  describe(`flow change bus: ${name}`, () => {
    it('delivers a publish to every subscriber, and stops after unsubscribe', async () => {
      const { a, b } = make();
      try {
        const seenA: string[] = [];
        const seenB: string[] = [];
        const offA = await a.subscribe((id) => seenA.push(id));
        await b.subscribe((id) => seenB.push(id));
        await a.publish('bot-1');
        await b.publish('bot-2');
        await waitFor('the notices', () => seenA.length === 2 && seenB.length === 2);
        assert.deepEqual(seenA.sort(), ['bot-1', 'bot-2']);
        assert.deepEqual(seenB.sort(), ['bot-1', 'bot-2']);
        await offA();
        await b.publish('bot-3');
        await waitFor('the notices', () => seenB.length === 3);
        assert.equal(seenA.length, 2);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

contract('in-process', () => {
  const bus = createMemoryFlowChangeBus();
  return { a: bus, b: bus };
});

contract('Redis (two processes share a channel)', () => {
  const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
  return {
    a: createRedisFlowChangeBus({ url: REDIS_URL, prefix }),
    b: createRedisFlowChangeBus({ url: REDIS_URL, prefix }),
  };
});

describe('flow change bus: Redis down', () => {
  it('publishing to an unreachable Redis fails with an error instead of hanging', async () => {
    const bus = createRedisFlowChangeBus({ url: 'redis://127.0.0.1:1', prefix: 'x' });
    await assert.rejects(
      bus.publish('bot'),
      (e: unknown) => e instanceof BotflowError && e.code === 'STORE_UNAVAILABLE',
    );
    await bus.close();
  });
});

describe('flow change bus: Redis lost and back', () => {
  it('publishing fails with a retryable error while Redis is away and works again when it returns', async () => {
    const { startTcpProxy } = await import('../support/tcp-proxy.ts');
    const target = new URL(REDIS_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
    const viaProxy = createRedisFlowChangeBus({ url: `redis://127.0.0.1:${proxy.port}`, prefix });
    const direct = createRedisFlowChangeBus({ url: REDIS_URL, prefix });
    try {
      const seen: string[] = [];
      await direct.subscribe((id) => seen.push(id));
      await viaProxy.publish('before');
      await waitFor('the notices', () => seen.includes('before'));
      proxy.cut();
      await assert.rejects(
        viaProxy.publish('during'),
        (e: unknown) => e instanceof BotflowError && e.retryable,
      );
      proxy.restore();
      for (let i = 0; ; i++) {
        try {
          await viaProxy.publish('after');
          break;
        } catch (error) {
          assert.ok(i < 100, `Redis came back (${String(error)})`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await waitFor('the notices', () => seen.includes('after'));
      // A notice that timed out may still be delivered after the reconnect: harmless, invalidation is idempotent.
    } finally {
      await viaProxy.close();
      await direct.close();
      await proxy.close();
    }
  });
});
