/**
 * The per-bot "flood-wait until" gate: after Telegram answers 429 with `retry_after`, every worker
 * holds that bot's sends until the time passes. Redis shares it across workers (the later deadline
 * wins); the in-process gate serves one embedded worker. A gate that cannot be read lets sends pass:
 * Telegram's own 429 remains the backstop.
 */
import { Redis } from 'ioredis';
import { createKeys } from './keys.ts';

/** The flood gate port. */
export interface FloodGate {
  /** Ms since epoch until which the bot must wait (0: none). */
  until(botId: string): Promise<number>;
  /** Holds the bot's sends until `untilMs` (an earlier deadline never shortens a later one). */
  hold(botId: string, untilMs: number): Promise<void>;
  close(): Promise<void>;
}

/** The in-process gate. */
export function createMemoryFloodGate(): FloodGate {
  const gates = new Map<string, number>();
  return {
    async until(botId) {
      return gates.get(botId) ?? 0;
    },
    async hold(botId, untilMs) {
      gates.set(botId, Math.max(gates.get(botId) ?? 0, untilMs));
    },
    async close() {},
  };
}

// Sets the deadline only when it is later than the stored one; expires with it.
const HOLD_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if want > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1`;

/** The Redis gate shared by all workers. */
export function createRedisFloodGate(options: {
  url: string;
  prefix: string;
  now?: () => number;
}): FloodGate {
  const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 1000 });
  redis.on('error', () => {});
  const keys = createKeys(options.prefix);
  const now = options.now ?? Date.now;
  const ready = async () => {
    if (redis.status === 'wait') await redis.connect();
  };
  return {
    async until(botId) {
      try {
        await ready();
        return Number((await redis.get(keys.floodUntil(botId))) ?? 0);
      } catch {
        return 0;
      }
    },
    async hold(botId, untilMs) {
      const ttl = Math.max(1, Math.ceil(untilMs - now()));
      try {
        await ready();
        await redis.eval(HOLD_SCRIPT, 1, keys.floodUntil(botId), String(untilMs), String(ttl));
      } catch {
        // Best effort: the 429 itself still stops this sender.
      }
    },
    async close() {
      redis.disconnect();
    },
  };
}
