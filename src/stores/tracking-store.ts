/**
 * Where ad clicks and their indexes live: Redis in production (shared by every worker), in-process
 * when embedded. A click is stored under its token only; the fbclid and chat indexes hold only a
 * token, so two writers can never store different value types under one key.
 */
import { Redis } from 'ioredis';
import { BotflowError } from '../errors.ts';
import type { ClickPayload } from '../tracking/click.ts';
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

/** The Redis store. Every failure is a retryable STORE_UNAVAILABLE. */
export function createRedisTrackingStore(options: { url: string; prefix: string }): TrackingStore {
  const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2, commandTimeout: 2000 });
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
  return {
    saveClick: (token, payload, ttl) =>
      run(async () => {
        const tx = redis.multi().set(keys.click(token), JSON.stringify(payload), 'EX', ttl);
        if (payload.fbclid) tx.set(keys.fbclidIndex(payload.fbclid), token, 'EX', ttl);
        const results = await tx.exec();
        if (results === null || results.some(([error]) => error !== null))
          throw new Error('click transaction failed');
      }),
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
