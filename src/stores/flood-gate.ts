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

// Sets the deadline only when it is later than the stored one (expiring with it), and announces it.
const HOLD_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if want > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('PUBLISH', KEYS[2], ARGV[3] .. ' ' .. ARGV[1])
end
return 1`;

/**
 * The Redis gate shared by all workers. Each worker reads a bot's deadline from Redis once, then keeps
 * it current from the announcements of every raise, so a send costs no Redis round trip; while the
 * subscription is down it reads Redis on every send instead.
 */
export function createRedisFloodGate(options: {
  url: string;
  prefix: string;
  now?: () => number;
}): FloodGate {
  const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 1000 });
  redis.on('error', () => {});
  const sub = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  sub.on('error', () => {});
  const keys = createKeys(options.prefix);
  const channel = keys.floodChannel();
  const now = options.now ?? Date.now;
  /** Deadlines this worker knows to be current (seeded by a read, then kept by announcements). */
  const known = new Map<string, number>();
  sub.on('message', (_channel: string, message: string) => {
    const [botId, at] = message.split(' ');
    const untilMs = Number(at);
    if (botId !== undefined && Number.isFinite(untilMs) && untilMs > (known.get(botId) ?? 0))
      known.set(botId, untilMs);
  });
  // Announcements count only once the subscription is confirmed; a dropped connection may have missed
  // some, so every bot is read from Redis again until it is back.
  let live = false;
  sub.on('close', () => {
    live = false;
    known.clear();
  });
  // On every (re)connection: subscribe, and count announcements once Redis confirms it.
  sub.on('ready', () => {
    sub.subscribe(channel).then(
      () => {
        live = sub.status === 'ready';
      },
      () => {},
    );
  });
  const listening = () => {
    if (sub.status === 'wait') sub.connect().catch(() => {});
    return live;
  };
  const ready = async () => {
    if (redis.status === 'wait') await redis.connect();
  };

  return {
    async until(botId) {
      if (listening() && known.has(botId)) return known.get(botId)!;
      try {
        await ready();
        const stored = Number((await redis.get(keys.floodUntil(botId))) ?? 0);
        const current = Math.max(stored, known.get(botId) ?? 0);
        // Subscribed: from here on the announcements keep this bot's deadline current.
        if (live) known.set(botId, current);
        return current;
      } catch {
        return known.get(botId) ?? 0;
      }
    },
    async hold(botId, untilMs) {
      // Only a seeded deadline is raised here; an unseeded one is read from Redis on the next send.
      if (known.has(botId) && untilMs > known.get(botId)!) known.set(botId, untilMs);
      const ttl = Math.max(1, Math.ceil(untilMs - now()));
      try {
        await ready();
        await redis.eval(
          HOLD_SCRIPT,
          2,
          keys.floodUntil(botId),
          channel,
          String(untilMs),
          String(ttl),
          botId,
        );
      } catch {
        // Best effort: the 429 itself still stops this sender.
      }
    },
    async close() {
      redis.disconnect();
      sub.disconnect();
    },
  };
}
