/**
 * The owner's memory of its buyers' tracking bindings, so a charge resolves its click without reading
 * `bot_users`. The shard's owner is the only writer of a binding (the `/start` commit's `bindTracking`
 * record), so what it committed is what the row holds as long as it keeps the shard: each entry is
 * kept with the epoch it was committed under and trusted only while that epoch is still held. Anything
 * not remembered (a restart, another owner's commit, an evicted entry) is read.
 */
import type { ClickPayload } from './click.ts';
import type { BindTrackingRecord } from './tracking-record-writers.ts';
import type { CommitRecord } from '../runtime/ports.ts';

/** A buyer's tracking binding as `bot_users` stores it. */
export interface TrackingBinding {
  tracking_token: string | null;
  tracking_payload: ClickPayload | null;
  fbclid: string | null;
}

/** A committed input as the host reports it: its conversation, its records and what the commit did. */
export interface CommittedInput {
  botId: string;
  userId: string;
  records?: readonly CommitRecord[];
  /** The commit created the conversation's row (so no binding of it existed before). */
  created: boolean;
}

export interface BindingMemoryOptions {
  /** Reads a binding from the store (null: none). */
  read(botId: string, userId: string): Promise<TrackingBinding | null>;
  /** The epoch this process holds the conversation's shard at; null when it does not own it. */
  epochOf(botId: string, userId: string): number | null;
  /** Most bindings remembered; the least recently used beyond it are forgotten (default 20,000). */
  maxEntries?: number;
}

/** The bindings of one process. */
export interface BindingMemory {
  /** The buyer's binding: as this owner committed it, else read. */
  bindingOf(botId: string, userId: string): Promise<TrackingBinding | null>;
  /** Learns the binding a committed input wrote (a no-op for inputs without one). */
  remember(input: CommittedInput): void;
  readonly size: number;
}

interface Entry {
  epoch: number;
  binding: TrackingBinding | null;
}

/** Creates the memory (empty: every binding is read until a commit here writes it). */
export function createBindingMemory(options: BindingMemoryOptions): BindingMemory {
  const entries = new Map<string, Entry>();
  const max = options.maxEntries ?? 20_000;
  const keyOf = (botId: string, userId: string) => `${botId}:${userId}`;

  function store(key: string, entry: Entry): void {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > max) entries.delete(entries.keys().next().value!);
  }

  return {
    async bindingOf(botId, userId) {
      const key = keyOf(botId, userId);
      const entry = entries.get(key);
      if (entry !== undefined && entry.epoch === options.epochOf(botId, userId)) return entry.binding;
      if (entry !== undefined) entries.delete(key);
      return options.read(botId, userId);
    },
    remember(input) {
      const bound = (input.records ?? []).filter((r) => r.kind === 'bindTracking').at(-1) as
        BindTrackingRecord | undefined;
      if (bound === undefined) return;
      const epoch = options.epochOf(input.botId, input.userId);
      const key = keyOf(input.botId, input.userId);
      if (epoch === null) {
        entries.delete(key);
        return;
      }
      const known = entries.get(key);
      const before = known?.epoch === epoch ? known.binding : input.created ? null : undefined;
      const after = nextBinding(before, bound);
      if (after === undefined) entries.delete(key);
      else store(key, { epoch, binding: after });
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The binding after `bound` is written over `before` (undefined: not known here), as the writer's
 * upsert does: a click replaces token and fbclid and keeps the old payload if it has none; a plain
 * /start changes nothing, or inserts an empty row (`before` null: none existed). Undefined when the
 * result is not known without a read.
 */
function nextBinding(
  before: TrackingBinding | null | undefined,
  bound: BindTrackingRecord,
): TrackingBinding | null | undefined {
  if (bound.token === null)
    return before === null ? { tracking_token: null, tracking_payload: null, fbclid: null } : before;
  const payload =
    (bound.payload as ClickPayload | null) ??
    (before === undefined ? undefined : (before?.tracking_payload ?? null));
  if (payload === undefined) return undefined;
  return { tracking_token: bound.token, tracking_payload: payload, fbclid: bound.fbclid };
}
