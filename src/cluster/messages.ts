/**
 * The messages of the cluster (JSON-serializable): IPC between the primary and its workers, and the
 * frames of the direct channel on which a worker forwards an input to the worker owning its shard.
 */
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
  /** The shard table and, per slot, the socket its worker takes forwarded inputs on (unset while down). */
  | { kind: 'table'; table: ShardTable; slot: number; peers: Array<string | null> }
  | { kind: 'inject'; id: number; input: RoutedInput }
  | { kind: 'drain' }
  /** Asks for this worker's metrics (a `metrics-part` answers). */
  | { kind: 'metrics-collect'; id: number }
  /** The whole cluster's metrics, in Prometheus text, for a worker's `/metrics`. */
  | { kind: 'metrics-reply'; id: number; text: string };

export type ToPrimary =
  /** Started; `peer` is the socket it takes forwarded inputs on. */
  | { kind: 'ready'; peer: string }
  | { kind: 'table-applied'; version: number }
  | { kind: 'inject-reply'; id: number; ok: boolean; result?: unknown; error?: WireError }
  | { kind: 'metrics-request'; id: number }
  | { kind: 'metrics-part'; id: number; metrics: unknown[] };

/** A forwarded input on the direct channel between workers. */
export interface PeerRequest {
  id: number;
  input: RoutedInput;
}

/** The owner's answer to a `PeerRequest`: its committed result, or the error. */
export interface PeerAnswer {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: WireError;
}
