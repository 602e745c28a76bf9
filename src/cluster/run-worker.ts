/**
 * A cluster worker: runs botflow with the shards the primary gives it, executes inputs of its own
 * shards, and forwards the others straight to the worker the table names as their owner (a Unix
 * socket per worker; the primary only says where each one listens), answering only with the owner's
 * committed result, or a retryable STALE_OWNER when ownership moved or the owner is down or died.
 */
import { type BotflowApp, type BootstrapOptions, bootstrap } from '../bootstrap.ts';
import { BotflowError, toWireError } from '../errors.ts';
import type { DispatchResult } from '../runtime/conversation-host.ts';
import type { RoutedInput, ToPrimary } from './messages.ts';
import { shardOf } from '../runtime/shard.ts';
import { type ShardTable, shardsOf } from './shard-table.ts';
import { servePeerInputs } from './serve-peer-inputs.ts';
import { connectPeer, type PeerLink } from './connect-peer.ts';
import { answerPrimary } from './answer-primary.ts';

const FORWARD_TIMEOUT_MS = 15_000;
/** A shard found claimed elsewhere is claimed again at most this often. */
const RECLAIM_EVERY_MS = 1000;
/** Waits between attempts to take a table's shards when the claim failed (the last one repeats). */
const CLAIM_RETRY_MS = [250, 500, 1000, 2000, 5000];

/** A running worker: its botflow, and how to stop it with its peer socket. */
export interface RunningWorker {
  app: BotflowApp;
  /** Drains botflow (forwarded inputs in flight still get their answers), then closes the peer socket. */
  close(): Promise<void>;
}

/** Runs a worker in this (forked) process until the primary says drain. */
export async function runWorker(options: BootstrapOptions = {}): Promise<RunningWorker> {
  const send = (message: ToPrimary) => process.send?.(message);
  let tables: Promise<unknown> = Promise.resolve();
  /** The latest table and peer sockets the primary sent (routing uses them before they are applied). */
  let routing: { table: ShardTable; slot: number; peers: Array<string | null> } | undefined;
  const reclaimedAt = new Map<number, number>();
  let closing = false;
  /**
   * A commit of a shard this worker holds was refused as `stale_epoch`: someone claimed it since (a
   * claim of an older table landing late, or a dead worker's statement finishing after its death).
   * When the latest table still gives the shard here, it is claimed again, in turn with the tables and
   * at most once a second per shard; a worker whose table is the older one yields once its table comes.
   */
  const reclaimStale = (shard: number) => {
    if (routing === undefined || routing.table.owners[shard] !== routing.slot) return;
    const now = Date.now();
    if (now - (reclaimedAt.get(shard) ?? 0) < RECLAIM_EVERY_MS) return;
    reclaimedAt.set(shard, now);
    tables = tables
      .then(() => {
        if (routing?.table.owners[shard] !== routing?.slot) return;
        app.logger.warn({ shard }, 'shard claimed elsewhere since this worker claimed it: claiming it again');
        return app.reclaimShards([shard]);
      })
      .catch((error: unknown) => app.logger.error({ err: error, shard }, 'could not claim a shard again'));
  };
  const app = await bootstrap({ ...options, ownAllShards: false, onStaleEpoch: reclaimStale });
  const links = new Map<number, PeerLink>();

  const local = async (input: RoutedInput) => {
    if (!app.owns(shardOf(input.botId, input.userId))) {
      throw new BotflowError('STALE_OWNER', 'this worker no longer owns that conversation');
    }
    return app.host.dispatch(input);
  };
  const peerServer = await servePeerInputs({ run: local, toWire: toWireError });

  /** The open link to the worker in `slot`, made anew when its socket changed or the last one broke. */
  const linkTo = (slot: number): PeerLink | undefined => {
    const path = routing?.peers[slot] ?? null;
    if (path === null) return undefined;
    const kept = links.get(slot);
    if (kept !== undefined && kept.open && kept.path === path) return kept;
    kept?.close();
    const link = connectPeer(path, FORWARD_TIMEOUT_MS);
    links.set(slot, link);
    return link;
  };

  const route = async (input: RoutedInput): Promise<unknown> => {
    const shard = shardOf(input.botId, input.userId);
    if (app.owns(shard)) return local(input);
    const owner = routing?.table.owners[shard];
    const link = owner === undefined || owner === routing?.slot ? undefined : linkTo(owner);
    if (link === undefined)
      throw new BotflowError('STALE_OWNER', 'the owner of that conversation is restarting');
    return link.send(input);
  };

  app.setRouter((input) => route(input) as Promise<DispatchResult>);
  const primary = answerPrimary({
    send,
    run: route,
    registry: app.metrics.registry,
    close,
    onTable(message) {
      routing = { table: message.table, slot: message.slot, peers: message.peers };
      // Tables apply one at a time, in order: a claim still running must not resurrect shards a
      // newer table took away.
      tables = tables.then(() => applyTable(message.table, message.slot));
    },
  });
  app.setMetricsSource(primary.clusterMetrics);

  /**
   * Takes the table's shards, then tells the primary. A failed claim (Postgres down for a moment) is
   * tried again, 250 ms to 5 s apart, until it succeeds or a newer table replaces this one: otherwise
   * the shards would stay unowned, every input of theirs refused as STALE_OWNER, until the next table.
   */
  async function applyTable(table: ShardTable, slot: number): Promise<void> {
    for (let attempt = 0; !closing && routing?.table.version === table.version; attempt++) {
      try {
        await app.setOwnedShards(shardsOf(table, slot));
        send({ kind: 'table-applied', version: table.version });
        return;
      } catch (error) {
        const waitMs = CLAIM_RETRY_MS[Math.min(attempt, CLAIM_RETRY_MS.length - 1)]!;
        app.logger.error({ err: error, attempt: attempt + 1, waitMs }, 'could not take shards: trying again');
        await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
      }
    }
  }

  async function close(): Promise<void> {
    closing = true;
    await app.close();
    for (const link of links.values()) link.close();
    await peerServer.close();
  }
  send({ kind: 'ready', peer: peerServer.path });
  return { app, close };
}
