import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createMemoryFloodGate, createRedisFloodGate, type FloodGate } from '../../src/stores/flood-gate.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait-for.ts';

const REDIS_URL = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';

/** One contract, run against every implementation: `a` and `b` are two workers' views of one gate. */
function contract(name: string, make: () => { a: FloodGate; b: FloodGate }) {
  describe(`flood gate: ${name}`, () => {
    it('a hold seen by one worker holds the bot on the other, and a later deadline wins', async () => {
      const { a, b } = make();
      try {
        const t = Date.now() + 60_000;
        assert.equal(await a.until('bot-1'), 0);
        assert.equal(await b.until('bot-1'), 0, 'both workers have read the bot once');
        await a.hold('bot-1', t);
        await waitFor('the raised deadline', async () => (await b.until('bot-1')) === t);
        await b.hold('bot-1', t - 10_000);
        assert.equal(await a.until('bot-1'), t, 'an earlier deadline never shortens a later one');
        await b.hold('bot-1', t + 5_000);
        await waitFor('the raised deadline', async () => (await a.until('bot-1')) === t + 5_000);
        assert.equal(await a.until('bot-2'), 0, 'other bots are not held');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a worker that reads the bot for the first time after the hold sees it', async () => {
      const { a, b } = make();
      try {
        const t = Date.now() + 30_000;
        await a.hold('bot-3', t);
        assert.equal(await b.until('bot-3'), t);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

contract('in-process', () => {
  const gate = createMemoryFloodGate();
  return { a: gate, b: gate };
});

contract('Redis (two workers share it)', () => {
  const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
  return {
    a: createRedisFloodGate({ url: REDIS_URL, prefix }),
    b: createRedisFloodGate({ url: REDIS_URL, prefix }),
  };
});

describe('flood gate: Redis specifics', () => {
  it('stores the deadline with a TTL under the one key, and lets sends pass when Redis is down', async () => {
    const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
    const gate = createRedisFloodGate({ url: REDIS_URL, prefix });
    const redis = new Redis(REDIS_URL);
    try {
      const t = Date.now() + 5_000;
      await gate.hold('bot-9', t);
      assert.equal(await redis.get(`${prefix}:flood:bot-9`), String(t));
      const ttl = await redis.pttl(`${prefix}:flood:bot-9`);
      assert.ok(ttl > 0 && ttl <= 5_000, `ttl ${ttl}`);
    } finally {
      await redis.del(`${prefix}:flood:bot-9`);
      redis.disconnect();
      await gate.close();
    }
    const down = createRedisFloodGate({ url: 'redis://127.0.0.1:1', prefix });
    try {
      assert.equal(await down.until('bot-9'), 0);
      await down.hold('bot-9', Date.now() + 1000);
    } finally {
      await down.close();
    }
  });

  it('once subscribed, a worker answers from its copy (no Redis read per send), kept by announcements', async () => {
    const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
    const a = createRedisFloodGate({ url: REDIS_URL, prefix });
    const b = createRedisFloodGate({ url: REDIS_URL, prefix });
    const redis = new Redis(REDIS_URL);
    try {
      // Let b subscribe, then read the bot so its copy is seeded.
      await b.until('bot-5');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await b.until('bot-5'), 0);
      // A write that bypasses the gate is not read back: b answers from its copy.
      await redis.set(`${prefix}:flood:bot-5`, String(Date.now() + 60_000), 'PX', 60_000);
      assert.equal(await b.until('bot-5'), 0);
      // A hold through the gate is announced, and b's copy follows.
      const t = Date.now() + 120_000;
      await a.hold('bot-5', t);
      await waitFor('the raised deadline', async () => (await b.until('bot-5')) === t);
    } finally {
      await redis.del(`${prefix}:flood:bot-5`);
      redis.disconnect();
      await a.close();
      await b.close();
    }
  });

  it('after its Redis connection drops, a worker reads Redis again and misses no raise made meanwhile', async () => {
    const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
    const target = new URL(REDIS_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const a = createRedisFloodGate({ url: REDIS_URL, prefix });
    const b = createRedisFloodGate({ url: `redis://127.0.0.1:${proxy.port}`, prefix });
    const redis = new Redis(REDIS_URL);
    try {
      await b.until('bot-6');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await b.until('bot-6'), 0, 'seeded and subscribed');
      proxy.cut();
      const t = Date.now() + 90_000;
      await a.hold('bot-6', t);
      proxy.restore();
      // b missed the announcement, and is back (subscribed again) before it is asked: the copy it had
      // went with the connection, so it asks Redis.
      await new Promise((r) => setTimeout(r, 1500));
      await waitFor('the raise made while b was cut off', async () => (await b.until('bot-6')) === t, 5000);
    } finally {
      await redis.del(`${prefix}:flood:bot-6`);
      redis.disconnect();
      await a.close();
      await b.close();
      await proxy.close();
    }
  });
});
