/**
 * One worker's subscription to one partition queue, on its own channel, with manual acks. It can
 * hand the queue over to the next consumer in RabbitMQ's line without breaking per-conversation
 * order: it stops passing deliveries on, lets the ones already running commit and ack, lets the
 * partition go, and only then closes the channel, which returns the deliveries it held back to the
 * queue ahead of everything newer; then it subscribes again, at the back of the line. A channel lost
 * any other way lets the partition go and subscribes again after a pause. A delivery the handler
 * asks to hold (the partition's probe) stays unacked while this subscription lives, so it goes back
 * to the queue, and on to the next active consumer, the moment this one ends.
 */
import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client';

export interface PartitionConsumerOptions {
  queue: string;
  queueArguments: Record<string, unknown>;
  prefetch: number;
  /**
   * Handles one delivery (replying if it asks for a reply). `ack` once done; `hold` keeps it unacked
   * for the life of the subscription (only the first held one: later ones are acked); `requeue`
   * gives it back to the queue.
   */
  handle(msg: AsyncMessage, reply: (body: Buffer) => Promise<void>): Promise<'ack' | 'hold' | 'requeue'>;
  /** This subscription is gone (handed over, or its channel lost): the partition must be let go. */
  release(): Promise<void>;
  /** A channel failed (logged by the caller; the subscription recovers on its own). */
  onError(error: unknown): void;
  /** Pause before subscribing again after a loss (ms). */
  retryMs: number;
}

/** A running subscription. */
export interface PartitionConsumer {
  /** Gives the queue to the next consumer in line and subscribes again behind it. */
  handOff(): Promise<void>;
  close(): Promise<void>;
}

/** Subscribes to a partition queue (retrying until the connection lets it). */
export function consumePartition(
  connection: Connection,
  options: PartitionConsumerOptions,
): PartitionConsumer {
  let channel: Channel | undefined;
  /** While handing over: deliveries are held back (never acked), so closing returns them in order. */
  let holding = false;
  /** The channel on which one delivery (the probe) is kept unacked for the subscription's life. */
  let keptOn: Channel | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const running = new Set<Promise<void>>();

  const onMessage = (ch: Channel, msg: AsyncMessage) => {
    // Held back while handing over: never acked here, so the channel's close returns it in order.
    if (holding || closed) return;
    const reply = (body: Buffer) =>
      ch.basicPublish({ routingKey: msg.replyTo!, correlationId: msg.correlationId }, body).then(() => {});
    const job = options
      .handle(msg, reply)
      .then((outcome) => {
        if (outcome === 'hold' && keptOn !== ch) keptOn = ch;
        else if (outcome === 'requeue') ch.basicNack({ deliveryTag: msg.deliveryTag, requeue: true });
        else ch.basicAck({ deliveryTag: msg.deliveryTag });
      })
      .catch(options.onError)
      .finally(() => running.delete(job));
    running.add(job);
  };

  const lost = (ch: Channel) => {
    if (channel !== ch) return;
    channel = undefined;
    void options.release();
    if (!closed) retry = setTimeout(subscribe, options.retryMs);
  };

  async function subscribe(): Promise<void> {
    retry = undefined;
    if (closed) return;
    let ch: Channel | undefined;
    try {
      ch = await connection.acquire();
      const opened = ch;
      channel = opened;
      opened.once('close', () => lost(opened));
      await opened.queueDeclare({ queue: options.queue, durable: true, arguments: options.queueArguments });
      await opened.basicQos({ prefetchCount: options.prefetch });
      holding = false;
      await opened.basicConsume({ queue: options.queue }, (msg) => onMessage(opened, msg));
    } catch (error) {
      options.onError(error);
      if (ch === undefined) {
        if (!closed) retry = setTimeout(subscribe, options.retryMs);
      } else await ch.close().catch(() => {});
    }
  }

  /** Stops taking deliveries, waits for the running ones, lets the partition go and closes the channel. */
  async function leave(): Promise<void> {
    holding = true;
    while (running.size > 0) await Promise.allSettled([...running]);
    const ch = channel;
    channel = undefined;
    await options.release();
    await ch?.close().catch(() => {});
  }

  void subscribe();
  return {
    async handOff() {
      if (closed || channel === undefined) return;
      await leave();
      await subscribe();
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await leave();
    },
  };
}
