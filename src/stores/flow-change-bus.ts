/**
 * Tells every worker that a bot's published flow changed, so each drops its cached "latest version"
 * at once. Redis pub/sub across processes; an in-process bus for the embedded single worker.
 */
import { Redis } from 'ioredis';
import { BotflowError } from '../errors.ts';
import { createKeys } from './keys.ts';

/** Publishes and receives "bot X published a new flow version" notices. */
export interface FlowChangeBus {
  publish(botId: string): Promise<void>;
  /** Calls `listener` for every notice (including this process's own); returns an unsubscribe. */
  subscribe(listener: (botId: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The in-process bus. */
export function createMemoryFlowChangeBus(): FlowChangeBus {
  const listeners = new Set<(botId: string) => void>();
  return {
    async publish(botId) {
      for (const l of listeners) l(botId);
    },
    async subscribe(listener) {
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
      };
    },
    async close() {
      listeners.clear();
    },
  };
}

/** The Redis bus on channel `<prefix>:flows:published`. Needs its own subscriber connection. */
export function createRedisFlowChangeBus(options: { url: string; prefix: string }): FlowChangeBus {
  const channel = createKeys(options.prefix).flowsChannel();
  const pub = new Redis(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    // A bounded command time: a notice never waits on a Redis that vanished mid-write.
    commandTimeout: 2000,
  });
  const sub = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  const listeners = new Set<(botId: string) => void>();
  let subscribed: Promise<unknown> | null = null;
  pub.on('error', () => {});
  sub.on('error', () => {});
  sub.on('message', (ch: string, botId: string) => {
    if (ch === channel) for (const l of listeners) l(botId);
  });
  return {
    async publish(botId) {
      try {
        if (pub.status === 'wait') await pub.connect();
        await pub.publish(channel, botId);
      } catch (error) {
        throw new BotflowError('STORE_UNAVAILABLE', 'Redis did not take the flow change notice', {
          cause: error,
        });
      }
    },
    async subscribe(listener) {
      listeners.add(listener);
      subscribed ??= (sub.status === 'wait' ? sub.connect() : Promise.resolve()).then(() =>
        sub.subscribe(channel),
      );
      await subscribed;
      return async () => {
        listeners.delete(listener);
      };
    },
    async close() {
      listeners.clear();
      pub.disconnect();
      sub.disconnect();
    },
  };
}
