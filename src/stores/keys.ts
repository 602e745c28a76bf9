/**
 * The one module that names Redis keys. Each key has one writer and one value type, written here
 * beside it; long values (an fbclid of any length) are hashed in key names, never truncated, and the
 * values themselves are stored whole.
 */
import { hash } from 'node:crypto';

const digest = (value: string) => hash('sha256', value, 'hex');

/** Key names under a prefix (tests use a random one). */
export function createKeys(prefix: string) {
  return {
    /** JSON string: the click payload, written once by the tracking redirect, with a TTL. */
    click: (token: string) => `${prefix}:click:${token}`,
    /** String: a click token only. Writer: the tracking redirect (same TTL as the click). */
    fbclidIndex: (fbclid: string) => `${prefix}:idx:fbclid:${digest(fbclid)}`,
    /** String: a click token only. Writer: the `/start` binding. */
    chatIndex: (botId: string, userId: string) => `${prefix}:idx:chat:${botId}:${userId}`,
    /** String: ms timestamp until which the bot must not call the Bot API. Writer: the flood gate (max wins). */
    floodUntil: (botId: string) => `${prefix}:flood:${botId}`,
    /** Channel: `<bot id> <ms>` for every flood-gate deadline raised (workers cache the gate locally). */
    floodChannel: () => `${prefix}:flood:raised`,
    /** Channel: bot ids whose published flow changed. */
    flowsChannel: () => `${prefix}:flows:published`,
  };
}

export type Keys = ReturnType<typeof createKeys>;
