/**
 * The interfaces the actor runtime owns for what lies outside it: where conversations are stored and
 * where flow versions come from. Postgres and in-process implementations live at the edges.
 */
import type { PersistedConversation } from '../flow/advance-conversation.ts';
import type { CompiledFlow } from '../flow/compile.ts';
import type { Effect } from '../flow/types.ts';

/** A conversation as stored. `rowVersion` grows by one with every commit (optimistic guard). */
export interface StoredConversation {
  botId: string;
  userId: string;
  flowId: string;
  flowVersion: number;
  snapshot: PersistedConversation;
  rowVersion: number;
  /** Pending durable timers: timer id -> due time (ms since epoch). */
  timers: Record<string, number>;
}

/** A durable timer to start: deliver `event` to the conversation at `dueAt` (ms since epoch). */
export interface TimerStart {
  timerId: string;
  dueAt: number;
  event: { type: string };
}

/**
 * A fact written in the same transaction as the transition it came with, and only if that
 * transition commits (a duplicate input writes none): the /start binding of an ad click, a
 * payment's confirmed status, a conversion event for the Meta outbox.
 */
export type CommitRecord =
  | {
      kind: 'bindTracking';
      /** Null: a plain /start (only `last_seen` moves; an existing binding stays). */
      token: string | null;
      payload: Record<string, unknown> | null;
      fbclid: string | null;
    }
  | { kind: 'paymentStatus'; orderId: string; status: 'paid' | 'expired' | 'failed'; at: number }
  | { kind: 'conversion'; eventId: string; pixelId: string; payload: Record<string, unknown> };

/** Everything one event changed for one conversation, committed atomically. */
export interface CommitRow {
  botId: string;
  userId: string;
  shard: number;
  /** The shard epoch this worker holds; a commit under an older epoch is refused. */
  epoch: number;
  /** The row version read before the transition (0: the conversation is new). */
  expectedVersion: number;
  flowId: string;
  flowVersion: number;
  snapshot: PersistedConversation;
  effects: Array<{ key: string; effect: Effect; flowVersion?: number }>;
  timersStarted: TimerStart[];
  timersCancelled: string[];
  /** Idempotency key of the input (update id, webhook id, timer row); null when none. */
  inputKey: string | null;
  /** Facts committed with this row (see `CommitRecord`); `createCharge` effects also open their payment row. */
  records?: CommitRecord[];
}

/** What happened to a row: written, or refused (and nothing of it written). */
export type CommitOutcome = 'ok' | 'version_conflict' | 'stale_epoch' | 'duplicate_input';

/** A timer that is due. */
export interface DueTimer {
  botId: string;
  userId: string;
  timerId: string;
  dueAt: number;
  event: { type: string };
}

/** Which conversation: a Telegram user of a bot. */
export interface ConversationKey {
  botId: string;
  userId: string;
}

/** The system of record for conversations. */
export interface ConversationStore {
  load(botId: string, userId: string): Promise<StoredConversation | null>;
  /** Loads many conversations in one read; absent ones are left out of the map (keyed `botId:userId`). */
  loadMany(keys: ReadonlyArray<ConversationKey>): Promise<Map<string, StoredConversation>>;
  /** Commits rows independently within one transaction; one outcome per row, in order. */
  commitBatch(rows: CommitRow[]): Promise<CommitOutcome[]>;
  /** Pending timers due at or before `now` in the given shards, oldest first. */
  dueTimers(shards: readonly number[], now: number, limit: number): Promise<DueTimer[]>;
}

/** Where compiled flow versions come from (cached by version; published versions are immutable). */
export interface FlowSource {
  /** The newest published version of the bot's flow, or null when the bot has none. */
  latest(botId: string): Promise<CompiledFlow | null>;
  /** A specific version (a conversation keeps the version it started with). */
  version(flowId: string, version: number): Promise<CompiledFlow | null>;
}
