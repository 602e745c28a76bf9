/**
 * The ingress side of broker mode: publishes an input to its partition queue (persistent, mandatory,
 * publisher-confirmed) and waits for the owner's answer on RabbitMQ's direct reply-to, which the owner
 * sends only once the input's result is committed. A publish the broker does not confirm, a queue
 * that does not exist, a channel that dies or an owner that does not answer in time is a retryable
 * BROKER_UNAVAILABLE: nothing is answered as done that is not committed.
 */
import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client';
import { BotflowError } from '../errors.ts';

/** An owner's answer: the committed result, or the coded error it failed with. */
export interface BrokerReply {
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

export interface BrokerClientOptions {
  /** The partition queues, declared (idempotently) whenever the channel opens. */
  queues: readonly string[];
  queueArguments: Record<string, unknown>;
  /** How long the broker may take to confirm a publish. */
  confirmTimeoutMs: number;
  /** How long the owner may take to answer a confirmed input. */
  replyTimeoutMs: number;
}

/** Publishes inputs and probes. */
export interface BrokerClient {
  /** Publishes an input to `queue` and resolves with its owner's answer. */
  request(queue: string, body: Buffer): Promise<BrokerReply>;
  /** Publishes a probe to a partition queue (opening the channel, and declaring the queues, if needed). */
  probe(queue: string): void;
  /**
   * How many workers are linked to the broker now. Each worker consumes the presence queue (which
   * carries nothing) on this channel; a single-active-consumer queue counts only its active consumer.
   */
  workers(): Promise<number>;
  close(): Promise<void>;
}

const REPLY_TO = 'amq.rabbitmq.reply-to';
/** The queue every linked worker consumes, so its consumer count is the number of workers. */
export const PRESENCE_QUEUE = 'botflow.workers';
const EMPTY = Buffer.alloc(0);
/** Opens of the channel tried before an input fails, and the wait before the next (times the attempt). */
const OPEN_ATTEMPTS = 3;
const OPEN_RETRY_MS = 100;

interface Waiter {
  resolve(reply: BrokerReply): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

const unavailable = (message: string) => new BotflowError('BROKER_UNAVAILABLE', message);

/** Decodes an owner's answer; a malformed one is an INTERNAL failure. */
function decodeReply(body: unknown): BrokerReply {
  try {
    const parsed = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body)) as BrokerReply;
    if (typeof parsed === 'object' && parsed !== null && typeof parsed.ok === 'boolean') return parsed;
  } catch {
    // fall through
  }
  return { ok: false, error: { code: 'INTERNAL', message: 'malformed answer from the owner' } };
}

/** Rejects with BROKER_UNAVAILABLE when `promise` has not settled in `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Creates the client on a connection (one confirm-mode channel, reopened after a loss). */
export function createBrokerClient(connection: Connection, options: BrokerClientOptions): BrokerClient {
  const waiters = new Map<string, Waiter>();
  let channel: Channel | undefined;
  let opening: Promise<Channel> | undefined;
  let nextId = 1;
  let closed = false;

  const settle = (id: string, outcome: { reply?: BrokerReply; error?: unknown }) => {
    const waiter = waiters.get(id);
    if (waiter === undefined) return;
    waiters.delete(id);
    clearTimeout(waiter.timer);
    if (outcome.error === undefined) waiter.resolve(outcome.reply!);
    else waiter.reject(outcome.error);
  };

  async function open(): Promise<Channel> {
    const ch = await connection.acquire();
    ch.once('close', () => {
      if (channel === ch) channel = undefined;
      // Answers come back on this channel only: whoever waits retries (the input may still commit once).
      for (const id of [...waiters.keys()]) settle(id, { error: unavailable('the broker channel closed') });
    });
    ch.on('basic.return', (msg: { correlationId?: string }) => {
      if (msg.correlationId !== undefined)
        settle(msg.correlationId, { error: unavailable('no partition queue took the input') });
    });
    try {
      await ch.confirmSelect();
      await ch.basicConsume({ queue: REPLY_TO, noAck: true }, (msg: AsyncMessage) => {
        if (msg.correlationId !== undefined) settle(msg.correlationId, { reply: decodeReply(msg.body) });
      });
      for (const queue of options.queues)
        await ch.queueDeclare({ queue, durable: true, arguments: options.queueArguments });
      await ch.queueDeclare({
        queue: PRESENCE_QUEUE,
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      await ch.basicConsume({ queue: PRESENCE_QUEUE, noAck: true }, () => {});
    } catch (error) {
      // A channel the broker did not close itself is not left open behind a failed start.
      await ch.close().catch(() => {});
      throw error;
    }
    channel = ch;
    return ch;
  }

  /**
   * Opens the channel, trying again shortly when it fails: a quorum queue declared a moment ago may
   * not take a consumer yet (its Raft server is still starting, and RabbitMQ closes the channel on
   * `basic.consume` with `noproc`), which failed the first input after a start as BROKER_UNAVAILABLE.
   */
  async function openWithRetries(): Promise<Channel> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await open();
      } catch (error) {
        if (closed || attempt >= OPEN_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, OPEN_RETRY_MS * attempt));
      }
    }
  }

  const ready = (): Promise<Channel> => {
    if (closed) return Promise.reject(unavailable('the broker client is closed'));
    if (channel?.active) return Promise.resolve(channel);
    opening ??= openWithRetries().finally(() => {
      opening = undefined;
    });
    return opening.catch(() => {
      throw unavailable('RabbitMQ cannot be reached');
    });
  };

  return {
    async request(queue, body) {
      const ch = await ready();
      const id = String(nextId++);
      // Registered before publishing: the answer may come right after the confirm.
      const answer = new Promise<BrokerReply>((resolve, reject) => {
        const timer = setTimeout(
          () => settle(id, { error: unavailable('the owner did not answer in time') }),
          options.replyTimeoutMs,
        );
        waiters.set(id, { resolve, reject, timer });
      });
      answer.catch(() => {});
      try {
        await withTimeout(
          ch.basicPublish(
            {
              routingKey: queue,
              durable: true,
              mandatory: true,
              replyTo: REPLY_TO,
              correlationId: id,
              type: 'input',
            },
            body,
          ),
          options.confirmTimeoutMs,
          'RabbitMQ did not confirm the input in time',
        );
      } catch (error) {
        settle(id, {
          error: error instanceof BotflowError ? error : unavailable('RabbitMQ did not confirm the input'),
        });
      }
      return answer;
    },
    probe(queue) {
      ready()
        .then((ch) => ch.basicPublish({ routingKey: queue, type: 'probe' }, EMPTY))
        .catch(() => {});
    },
    async workers() {
      const ch = await ready();
      return (await ch.queueDeclare({ queue: PRESENCE_QUEUE, passive: true })).consumerCount;
    },
    async close() {
      closed = true;
      for (const id of [...waiters.keys()]) settle(id, { error: unavailable('the broker client is closed') });
      await channel?.close().catch(() => {});
    },
  };
}
