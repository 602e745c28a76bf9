/**
 * Which partitions this worker serves in broker mode. A partition is taken when its queue delivers to
 * this worker (RabbitMQ made it the single active consumer): its shards are claimed in Postgres, which
 * bumps their epochs and fences out the previous owner, before any of its messages is processed. A
 * partition is dropped when its consumer or the connection is lost, which stops its timers and
 * effects here. Claims and drops apply one at a time, in order, coalescing those waiting.
 */
import { shardsOfPartitions } from './partitions.ts';

export interface PartitionOwnershipOptions {
  count: number;
  /** Takes exactly these shards (claiming the new ones) and lets go of the rest. */
  setOwnedShards(shards: readonly number[]): Promise<void>;
  /** After each applied change: the partitions now served that were not, and those let go. */
  onChange?(change: { taken: number[]; dropped: number[] }): void;
}

/** The partitions of one worker. */
export interface PartitionOwnership {
  /** Resolves once the partition's shards are claimed here (claims it on first call); rejects if the claim failed. */
  take(partition: number): Promise<void>;
  /** Lets go of a partition (its shards stop being served here). */
  drop(partition: number): Promise<void>;
  /** Lets go of every partition. */
  dropAll(): Promise<void>;
  /** The partitions taken or being taken. */
  held(): number[];
}

/** Creates an ownership holding no partition. */
export function createPartitionOwnership(options: PartitionOwnershipOptions): PartitionOwnership {
  const taken = new Map<number, Promise<void>>();
  let chain: Promise<void> = Promise.resolve();
  let waiting: Promise<void> | undefined;
  /** The partitions as last applied to the shards. */
  let applied = new Set<number>();

  /** Applies the current set of partitions after what is already running; joins an apply not yet started. */
  const apply = (): Promise<void> => {
    if (waiting !== undefined) return waiting;
    const run = chain.then(async () => {
      waiting = undefined;
      const wanted = new Set(taken.keys());
      await options.setOwnedShards(shardsOfPartitions(wanted, options.count));
      const change = {
        taken: [...wanted].filter((p) => !applied.has(p)),
        dropped: [...applied].filter((p) => !wanted.has(p)),
      };
      applied = wanted;
      if (change.taken.length + change.dropped.length > 0) options.onChange?.(change);
    });
    waiting = run;
    chain = run.catch(() => {});
    return run;
  };

  return {
    take(partition) {
      const known = taken.get(partition);
      if (known !== undefined) return known;
      const claimed = apply();
      taken.set(partition, claimed);
      // A failed claim is retried by the next delivery.
      claimed.catch(() => {
        if (taken.get(partition) === claimed) taken.delete(partition);
      });
      return claimed;
    },
    drop(partition) {
      if (!taken.delete(partition)) return chain;
      return apply().catch(() => {});
    },
    dropAll() {
      if (taken.size === 0) return chain;
      taken.clear();
      return apply().catch(() => {});
    },
    held: () => [...taken.keys()],
  };
}
