/**
 * Broker mode for one botflow worker: it consumes every partition queue (quorum queues with single
 * active consumer, so RabbitMQ keeps one consumer active per queue on some host and hands the queue
 * over when that consumer's connection dies), serves the partitions whose queue delivers to it, and
 * sends the inputs of the others through their queue. The active consumer claims a partition's shards
 * on its first delivery (a probe, published by every worker to every queue each `probeMs`, makes that
 * happen on a queue without traffic), runs each input through the conversation host, answers the
 * sender and acks only once the result is committed. A worker serving more than its share of the
 * partitions (P / linked workers, rounded up) hands the excess to the next consumers in line.
 */
import { Connection, type AsyncMessage } from 'rabbitmq-client';
import type { Logger } from 'pino';
import { BotflowError, toBotflowError } from '../errors.ts';
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
  /** How often every partition is probed (ms, default 1000). */
  probeMs?: number;
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

/** The wire form of an error: code and message only (an INTERNAL one says nothing more). */
function toWire(error: unknown): { code: string; message: string } {
  const coded = toBotflowError(error);
  return { code: coded.code, message: coded.code === 'INTERNAL' ? 'internal error' : coded.message };
}

/** Connects the worker: consumes every partition, probes them, and routes inputs through them. */
export function startBrokerNode(app: BrokerNodeApp, options: BrokerNodeOptions): BrokerNode {
  const count = options.partitions;
  const probeMs = options.probeMs ?? 1000;
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
  const ownership = createPartitionOwnership({ count, setOwnedShards: app.setOwnedShards });
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
  connection.on('connection', () => app.logger.info({ name: options.name }, 'broker connected'));

  const serve = async (partition: number, msg: AsyncMessage, reply: (body: Buffer) => Promise<void>) => {
    const claimed = ownership.take(partition);
    if (msg.type === 'probe') {
      await claimed.catch(() => {});
      return;
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
      const wire = toWire(error);
      // Someone else claimed this partition's shards: stop serving them until a delivery says otherwise.
      if (wire.code === 'STALE_OWNER') void ownership.drop(partition);
      answer = { ok: false, error: wire };
    }
    if (msg.replyTo !== undefined)
      await reply(Buffer.from(JSON.stringify(answer))).catch(() => {
        // The sender is gone (its host died): it never answered its caller, which retries.
      });
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

  const probe = setInterval(() => {
    for (const queue of queues) client.probe(queue, probeMs * 2);
  }, probeMs);
  probe.unref();
  for (const queue of queues) client.probe(queue, probeMs * 2);

  const rebalance = async (): Promise<number> => {
    const held = ownership.held();
    if (held.length === 0) return 0;
    const share = Math.ceil(count / Math.max(1, await client.workers()));
    const excess = held.slice(share);
    await Promise.all(excess.map((partition) => consumers[partition]!.handOff()));
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

  app.setRouter(async (input) => {
    const shard = shardOf(input.botId, input.userId);
    if (app.owns(shard)) return app.host.dispatch(input);
    const queue = queueOfPartition(partitionOfShard(shard, count));
    const answer = await client.request(queue, Buffer.from(JSON.stringify(input)));
    if (answer.ok) return answer.result as DispatchResult;
    throw new BotflowError(
      (answer.error?.code ?? 'INTERNAL') as BotflowError['code'],
      answer.error?.message ?? 'internal error',
    );
  });

  return {
    held: ownership.held,
    handOff: (partition) => consumers[partition]?.handOff() ?? Promise.resolve(),
    rebalance,
    async close() {
      closing = true;
      clearInterval(probe);
      clearTimeout(rebalancing);
      await Promise.all(consumers.map((c) => c.close()));
      await ownership.dropAll();
      await client.close();
      await connection.close().catch(() => {});
    },
  };
}
