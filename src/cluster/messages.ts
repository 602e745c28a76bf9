/** The IPC messages between the cluster primary and its workers (JSON-serializable). */
import type { Effect, FlowEvent } from '../flow/types.ts';
import type { CommitRecord } from '../runtime/ports.ts';
import type { ShardTable } from './shard-table.ts';

/** One conversation input, as routed between processes. */
export interface RoutedInput {
  botId: string;
  userId: string;
  /** Absent: only `effects` and `records` are committed (see the conversation host's `Dispatch`). */
  event?: FlowEvent;
  inputKey?: string;
  records?: CommitRecord[];
  effects?: Effect[];
}

/** An error as it crosses a process boundary: its code and message only. */
export interface WireError {
  code: string;
  message: string;
}

export type ToWorker =
  | { kind: 'table'; table: ShardTable; slot: number }
  | { kind: 'forwarded'; id: number; input: RoutedInput }
  | { kind: 'forward-reply'; id: number; ok: boolean; result?: unknown; error?: WireError }
  | { kind: 'inject'; id: number; input: RoutedInput }
  | { kind: 'drain' }
  /** Asks for this worker's metrics (a `metrics-part` answers). */
  | { kind: 'metrics-collect'; id: number }
  /** The whole cluster's metrics, in Prometheus text, for a worker's `/metrics`. */
  | { kind: 'metrics-reply'; id: number; text: string };

export type ToPrimary =
  | { kind: 'ready' }
  | { kind: 'table-applied'; version: number }
  | { kind: 'forward'; id: number; shard: number; input: RoutedInput }
  | { kind: 'forwarded-reply'; id: number; ok: boolean; result?: unknown; error?: WireError }
  | { kind: 'inject-reply'; id: number; ok: boolean; result?: unknown; error?: WireError }
  | { kind: 'metrics-request'; id: number }
  | { kind: 'metrics-part'; id: number; metrics: unknown[] };
