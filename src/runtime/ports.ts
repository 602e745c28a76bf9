/**
 * The interfaces the actor runtime owns for what lies outside it: where conversations are stored,
 * how domains write their records with a commit, and where flow versions come from. Postgres and in-process implementations live at the edges.
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
 * transition commits (a duplicate input writes none). The runtime carries it unread: its `kind` names
 * the `RecordWriter` a domain registered for it, which writes it.
 */
export interface CommitRecord {
  kind: string;
  [field: string]: unknown;
}

/**
 * How a domain writes one kind of record inside the store's group commit statement: the columns it
 * binds (a name and a Postgres element type each; one array per column), the tuples a committed row
 * contributes (from its records of this kind, or derived from the row, e.g. its effects), and one
 * data-modifying statement that reads them from `source`, a subquery with `bot_id`, `user_id`, `shard`,
 * the named columns and `ord` (the tuple's place in the batch), to alias. A refused row contributes nothing.
 */
export interface RecordWriter {
  kind: string;
  columns: ReadonlyArray<readonly [name: string, type: string]>;
  tuples(row: CommitRow, records: readonly CommitRecord[]): unknown[][];
  statement(source: string): string;
}

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
  /** Facts committed with this row, each written by the registered writer of its kind. */
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

/** One read of the timers: those due now, and when the next pending one falls due (null: none). */
export interface TimerPoll {
  due: DueTimer[];
  nextDueAt: number | null;
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
  /** `dueTimers`, and the due time of the earliest pending timer after `now`, in one read. */
  pollTimers(shards: readonly number[], now: number, limit: number): Promise<TimerPoll>;
}

/** Where compiled flow versions come from (cached by version; published versions are immutable). */
export interface FlowSource {
  /** The newest published version of the bot's flow, or null when the bot has none. */
  latest(botId: string): Promise<CompiledFlow | null>;
  /** A specific version (a conversation keeps the version it started with). */
  version(flowId: string, version: number): Promise<CompiledFlow | null>;
}
