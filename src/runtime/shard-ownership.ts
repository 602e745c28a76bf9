/**
 * Which shards this worker owns, with the epoch it claimed each at: claiming a shard bumps its epoch in
 * the store (fencing out the previous owner's commits), and a shard let go drops its actors. Every
 * commit asks `epochOf`; a shard not owned here is STALE_OWNER.
 */
import { BotflowError } from '../errors.ts';
import { shardOf } from './shard.ts';

export interface ShardOwnershipOptions {
  /** Claims the shards for this worker in the store; answers each shard's new epoch. */
  claim(shards: readonly number[]): Promise<Map<number, number>>;
  /** A shard was let go: its actors leave memory. */
  onDropped(shard: number): void;
  /** New shards were taken (their pending effects should run here now). */
  onTaken(shards: readonly number[]): Promise<void>;
}

/** The shards of one worker. */
export interface ShardOwnership {
  /** Takes the given shards (claimed in the store) and lets go of the rest. */
  set(wanted: readonly number[]): Promise<void>;
  /**
   * Claims owned shards again at a new epoch; others are ignored. Their actors stay (mailboxes keep
   * their order): a state another owner changed meanwhile is a version conflict, reloaded.
   */
  reclaim(shards: readonly number[]): Promise<void>;
  owned(): number[];
  owns(shard: number): boolean;
  /** Whether the conversation between a bot and a user lives in a shard owned here. */
  ownsConversation(botId: string, userId: string): boolean;
  /** The epoch a shard was claimed at; STALE_OWNER when it is not owned here. */
  epochOf(shard: number): number;
  /** The epoch of the conversation's shard, or null when it is not owned here. */
  epochOfConversation(botId: string, userId: string): number | null;
}

/** Creates an ownership that owns nothing until `set`. */
export function createShardOwnership(options: ShardOwnershipOptions): ShardOwnership {
  const epochs = new Map<number, number>();
  return {
    async set(wanted) {
      const want = new Set(wanted);
      for (const shard of [...epochs.keys()]) {
        if (!want.has(shard)) {
          epochs.delete(shard);
          options.onDropped(shard);
        }
      }
      const fresh = wanted.filter((s) => !epochs.has(s));
      if (fresh.length === 0) return;
      for (const [shard, epoch] of await options.claim(fresh)) epochs.set(shard, epoch);
      await options.onTaken(fresh);
    },
    async reclaim(shards) {
      const mine = shards.filter((s) => epochs.has(s));
      if (mine.length === 0) return;
      for (const [shard, epoch] of await options.claim(mine)) if (epochs.has(shard)) epochs.set(shard, epoch);
      await options.onTaken(mine);
    },
    owned: () => [...epochs.keys()],
    owns: (shard) => epochs.has(shard),
    ownsConversation: (botId, userId) => epochs.has(shardOf(botId, userId)),
    epochOfConversation: (botId, userId) => epochs.get(shardOf(botId, userId)) ?? null,
    epochOf(shard) {
      const epoch = epochs.get(shard);
      if (epoch === undefined) throw new BotflowError('STALE_OWNER', `shard ${shard} is not owned here`);
      return epoch;
    },
  };
}
