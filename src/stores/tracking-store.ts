/**
 * Where ad clicks and their indexes live: Redis in production (shared by every worker), in-process
 * when embedded. A click is stored under its token only; the fbclid and chat indexes hold only a
 * token, so two writers can never store different value types under one key.
 */
import { Redis } from 'ioredis';
import { BotflowError } from '../errors.ts';
import type { ClickPayload } from '../tracking/click.ts';
import { batchWrites } from '../db/batch-writes.ts';
import { createKeys } from './keys.ts';

/** The tracking store port. */
export interface TrackingStore {
  /** Saves a click and indexes it by fbclid, atomically, both with the same TTL. */
  saveClick(token: string, payload: ClickPayload, ttlSeconds: number): Promise<void>;
  getClick(token: string): Promise<ClickPayload | null>;
  /** Binds a chat to a click token (a returning user's binding is replaced). */
  bindChat(botId: string, userId: string, token: string, ttlSeconds: number): Promise<void>;
  getChatToken(botId: string, userId: string): Promise<string | null>;
  getTokenByFbclid(fbclid: string): Promise<string | null>;
  close(): Promise<void>;
}

/** The in-process store, with TTLs on an injected clock. */
export function createMemoryTrackingStore(now: () => number = Date.now): TrackingStore {
  const values = new Map<string, { value: string; expires: number }>();
  const keys = createKeys('mem');
  const set = (key: string, value: string, ttl: number) =>
    values.set(key, { value, expires: now() + ttl * 1000 });
  const get = (key: string) => {
    const entry = values.get(key);
    if (entry === undefined || entry.expires <= now()) return null;
    return entry.value;
  };
  return {
    async saveClick(token, payload, ttl) {
      set(keys.click(token), JSON.stringify(payload), ttl);
      if (payload.fbclid) set(keys.fbclidIndex(payload.fbclid), token, ttl);
    },
    async getClick(token) {
      const raw = get(keys.click(token));
      return raw === null ? null : (JSON.parse(raw) as ClickPayload);
    },
    async bindChat(botId, userId, token, ttl) {
      set(keys.chatIndex(botId, userId), token, ttl);
    },
    getChatToken: async (botId, userId) => get(keys.chatIndex(botId, userId)),
    getTokenByFbclid: async (fbclid) => get(keys.fbclidIndex(fbclid)),
    async close() {
      values.clear();
    },
  };
}

// Stores a batch of clicks, each with its fbclid index when it has one, atomically, in one command: per
// click, KEYS holds its key (then its index key when ARGV's token is not ''), ARGV its JSON, TTL, token.
const SAVE_CLICKS_SCRIPT = `
local k = 1
for i = 1, #ARGV, 3 do
  redis.call('SET', KEYS[k], ARGV[i], 'EX', ARGV[i + 1])
  k = k + 1
  if ARGV[i + 2] ~= '' then
    redis.call('SET', KEYS[k], ARGV[i + 2], 'EX', ARGV[i + 1])
    k = k + 1
  end
end
return 1`;

/** A click waiting to be stored. */
interface QueuedClick {
  token: string;
  payload: ClickPayload;
  ttl: number;
}

/**
 * The Redis store. Every failure is a retryable STORE_UNAVAILABLE. Commands issued in the same tick
 * go out in one write (ioredis auto-pipelining); clicks are stored in batches, one script call each.
 */
export function createRedisTrackingStore(options: { url: string; prefix: string }): TrackingStore {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    commandTimeout: 2000,
    enableAutoPipelining: true,
  });
  redis.defineCommand('botflowSaveClicks', { lua: SAVE_CLICKS_SCRIPT });
  const saveScript = (
    redis as unknown as { botflowSaveClicks(...a: Array<string | number>): Promise<unknown> }
  ).botflowSaveClicks.bind(redis);
  redis.on('error', () => {});
  const keys = createKeys(options.prefix);
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      if (redis.status === 'wait') await redis.connect();
      return await fn();
    } catch (error) {
      throw new BotflowError('STORE_UNAVAILABLE', 'Redis did not answer', { cause: error });
    }
  };
  // Clicks arriving while a batch is stored go together in the next script call: one command for many
  // clicks, where the auto-pipeline carried one EVALSHA (and one ioredis command and reply) per click.
  const saveBatch = batchWrites<QueuedClick>((clicks) =>
    run(async () => {
      const keyList: string[] = [];
      const args: Array<string | number> = [];
      for (const { token, payload, ttl } of clicks) {
        keyList.push(keys.click(token));
        if (payload.fbclid) keyList.push(keys.fbclidIndex(payload.fbclid));
        args.push(JSON.stringify(payload), ttl, payload.fbclid ? token : '');
      }
      await saveScript(keyList.length, ...keyList, ...args);
    }),
  );
  return {
    saveClick: (token, payload, ttl) => saveBatch({ token, payload, ttl }),
    getClick: (token) =>
      run(async () => {
        const raw = await redis.get(keys.click(token));
        return raw === null ? null : (JSON.parse(raw) as ClickPayload);
      }),
    bindChat: (botId, userId, token, ttl) =>
      run(async () => {
        await redis.set(keys.chatIndex(botId, userId), token, 'EX', ttl);
      }),
    getChatToken: (botId, userId) => run(() => redis.get(keys.chatIndex(botId, userId))),
    getTokenByFbclid: (fbclid) => run(() => redis.get(keys.fbclidIndex(fbclid))),
    async close() {
      redis.disconnect();
    },
  };
}
