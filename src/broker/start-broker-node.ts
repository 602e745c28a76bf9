/**
 * Broker mode for one botflow worker: it consumes every partition queue (quorum queues with single
 * active consumer, so RabbitMQ keeps one consumer active per queue on some host and hands the queue
 * over when that consumer's connection dies), serves the partitions whose queue delivers to it, and
 * sends the inputs of the others through their queue. The active consumer claims a partition's shards
 * on its first delivery, runs each input through the conversation host, answers the sender and acks
 * only once the result is committed. AMQP does not tell a consumer it became active, so each queue
 * carries a probe: its active consumer claims on it and keeps it unacked, so when that consumer dies
 * or hands over, RabbitMQ returns the probe and delivers it to the next one, which claims at once,
 * traffic or not. Every worker publishes one probe per queue when it connects (the holder acks the
 * extra ones). A worker serving more than its share of the partitions (P / linked workers, rounded
 * up) hands the excess to the next consumers in line.
 */
import { Connection, type AsyncMessage } from 'rabbitmq-client';
import type { Logger } from 'pino';
import { BotflowError, toWireError } from '../errors.ts';
import type { Dispatch, DispatchResult } from '../runtime/conversation-host.ts';
import { shardOf } from '../runtime/shard.ts';
import { createBrokerClient, type BrokerReply } from './broker-client.ts';
import { consumePartition } from './consume-partition.ts';
import { decodeInput } from './decode-input.ts';
import { createPartitionOwnership } from './partition-ownership.ts';
import { partitionOfShard, queueOfPartition } from './partitions.ts';

/** Quorum queues (replicated, and single active consumer works on them in RabbitMQ 3.10) with SAC. */
export const PARTITION_QUEUE_ARGUMENTS = {
  'x-queue-type': 'quorum' as const,
  'x-single-active-consumer': true,
};

/** What broker mode needs of a running botflow. */
export interface BrokerNodeApp {
  host: { dispatch(input: Dispatch): Promise<DispatchResult> };
  owns(shard: number): boolean;
  setOwnedShards(shards: readonly number[]): Promise<void>;
  setRouter(route: (input: Dispatch) => Promise<DispatchResult>): void;
  logger: Logger;
}

export interface BrokerNodeOptions {
  /** amqp:// URL (never logged). */
  url: string;
  partitions: number;
  /** Names this worker's connection in RabbitMQ's tools. */
  name: string;
  /** How often this worker compares what it serves with its share (ms, default 3000, jittered). */
  rebalanceMs?: number;
  /** AMQP heartbeat (s, default 2): how soon a silent peer is found dead. */
  heartbeatSeconds?: number;
  /** Unacked inputs per partition in flight at once (default 128); order per conversation is the mailbox's. */
  prefetch?: number;
  /** How long an owner may take to answer a confirmed input (ms, default 15 s). */
  replyTimeoutMs?: number;
}

/** A worker's broker link. */
export interface BrokerNode {
  /** The partitions served here now. */
  held(): number[];
  /** Hands a partition served here to the next consumer in line (in-flight inputs finish first). */
  handOff(partition: number): Promise<void>;
  /** One rebalancing round: hands over the partitions beyond this worker's share; returns how many. */
  rebalance(): Promise<number>;
  /** Stops consuming (in-flight inputs finish and are acked), lets every partition go and closes the link. */
  close(): Promise<void>;
}

/** Connects the worker: consumes every partition, probes them, and routes inputs through them. */
export function startBrokerNode(app: BrokerNodeApp, options: BrokerNodeOptions): BrokerNode {
  const count = options.partitions;
  const rebalanceMs = options.rebalanceMs ?? 3000;
  const queues = Array.from({ length: count }, (_, p) => queueOfPartition(p));
  const connection = new Connection({
    url: options.url,
    connectionName: options.name,
    heartbeat: options.heartbeatSeconds ?? 2,
    acquireTimeout: 2000,
    connectionTimeout: 3000,
    retryLow: 200,
    retryHigh: 2000,
  });
  const ownership = createPartitionOwnership({
    count,
    setOwnedShards: app.setOwnedShards,
    // One line per change: when a host's partitions moved, and to whom, is read from these.
    onChange: ({ taken, dropped }) =>
      app.logger.info({ name: options.name, taken, dropped }, 'broker partitions changed'),
  });
  const client = createBrokerClient(connection, {
    queues,
    queueArguments: PARTITION_QUEUE_ARGUMENTS,
    confirmTimeoutMs: 5000,
    replyTimeoutMs: options.replyTimeoutMs ?? 15_000,
  });
  let closing = false;

  connection.on('error', (error: { code?: string }) => {
    if (closing) return;
    // Every consumer of this connection is gone: RabbitMQ hands its queues to other workers.
    app.logger.warn(
      { code: error.code, partitions: ownership.held().length },
      'broker connection lost; partitions dropped',
    );
    void ownership.dropAll();
  });
  const probeAll = () => {
    for (const queue of queues) client.probe(queue);
  };
  connection.on('connection', () => {
    app.logger.info({ name: options.name }, 'broker connected');
    // A probe per queue whoever holds it (after a broker restart or on a fresh vhost there may be none).
    probeAll();
  });

  const serve = async (partition: number, msg: AsyncMessage, reply: (body: Buffer) => Promise<void>) => {
    const claimed = ownership.take(partition);
    if (msg.type === 'probe') {
      try {
        await claimed;
        return 'hold' as const;
      } catch {
        // Not claimed (Postgres unreachable): the probe comes back to try again.
        await new Promise((r) => setTimeout(r, 1000));
        return 'requeue' as const;
      }
    }
    const input = decodeInput(msg.body);
    let answer: BrokerReply;
    try {
      await claimed;
      if (input === null) throw new BotflowError('BAD_REQUEST', 'not a botflow input');
      if (partitionOfShard(shardOf(input.botId, input.userId), count) !== partition)
        throw new BotflowError('BAD_REQUEST', 'input published to another partition');
      answer = { ok: true, result: await app.host.dispatch(input) };
    } catch (error) {
      const wire = toWireError(error);
      // Someone else claimed this partition's shards: stop serving them until a delivery says otherwise.
      if (wire.code === 'STALE_OWNER') void ownership.drop(partition);
      answer = { ok: false, error: wire };
    }
    if (msg.replyTo !== undefined)
      await reply(Buffer.from(JSON.stringify(answer))).catch(() => {
        // The sender is gone (its host died): it never answered its caller, which retries.
      });
    return 'ack' as const;
  };

  const consumers = queues.map((queue, partition) =>
    consumePartition(connection, {
      queue,
      queueArguments: PARTITION_QUEUE_ARGUMENTS,
      prefetch: options.prefetch ?? 128,
      retryMs: 500,
      handle: (msg, reply) => serve(partition, msg, reply),
      release: () => ownership.drop(partition),
      onError(error) {
        if (closing) return;
        app.logger.warn({ code: (error as { code?: string }).code, partition }, 'broker consumer failed');
      },
    }),
  );

  /** Inputs of owned partitions running here without the queue (the fast path), by partition. */
  const local = new Map<number, Set<Promise<unknown>>>();
  /** Partitions being handed over: their new inputs go through the queue, to whoever is next. */
  const leaving = new Set<number>();

  /** Hands a partition over; a probe follows it in case none was held here (it came by an input). */
  const handOff = async (partition: number) => {
    leaving.add(partition);
    try {
      while ((local.get(partition)?.size ?? 0) > 0) await Promise.allSettled([...local.get(partition)!]);
      await consumers[partition]!.handOff();
      client.probe(queues[partition]!);
    } finally {
      leaving.delete(partition);
    }
  };
  const rebalance = async (): Promise<number> => {
    const held = ownership.held();
    if (held.length === 0) return 0;
    const share = Math.ceil(count / Math.max(1, await client.workers()));
    const excess = held.slice(share);
    await Promise.all(excess.map(handOff));
    return excess.length;
  };
  let rebalancing: NodeJS.Timeout | undefined;
  const scheduleRebalance = () => {
    rebalancing = setTimeout(
      () => {
        void rebalance()
          .catch(() => 0)
          .finally(() => {
            if (!closing) scheduleRebalance();
          });
      },
      rebalanceMs * (0.75 + Math.random() / 2),
    );
    rebalancing.unref();
  };
  scheduleRebalance();

  /** Runs an input of a partition served here directly, tracked so a hand-over waits for it. */
  const runLocally = (partition: number, input: Dispatch): Promise<DispatchResult> => {
    const running = app.host.dispatch(input);
    const set = local.get(partition) ?? new Set<Promise<unknown>>();
    local.set(partition, set);
    set.add(running);
    void running.catch(() => {}).finally(() => set.delete(running));
    return running;
  };

  const publish = async (partition: number, input: Dispatch): Promise<DispatchResult> => {
    const answer = await client.request(queues[partition]!, Buffer.from(JSON.stringify(input)));
    if (answer.ok) return answer.result as DispatchResult;
    throw new BotflowError(
      (answer.error?.code ?? 'INTERNAL') as BotflowError['code'],
      answer.error?.message ?? 'internal error',
    );
  };

  app.setRouter(async (input) => {
    const partition = partitionOfShard(shardOf(input.botId, input.userId), count);
    if (!app.owns(shardOf(input.botId, input.userId)) || leaving.has(partition))
      return publish(partition, input);
    try {
      return await runLocally(partition, input);
    } catch (error) {
      // The partition moved while the input ran here (fenced, so not committed): its new owner runs it.
      if (error instanceof BotflowError && error.code === 'STALE_OWNER') return publish(partition, input);
      throw error;
    }
  });

  return {
    held: ownership.held,
    handOff,
    rebalance,
    async close() {
      closing = true;
      clearTimeout(rebalancing);
      await Promise.all(consumers.map((c) => c.close()));
      await ownership.dropAll();
      await client.close();
      await connection.close().catch(() => {});
    },
  };
}
