/**
 * The broker client's channel start on a real RabbitMQ (a fresh vhost): a start that fails is tried
 * again shortly, as when a quorum queue declared a moment ago does not take a consumer yet (RabbitMQ
 * closes the channel with `noproc`); one that keeps failing is a retryable BROKER_UNAVAILABLE.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Connection } from 'rabbitmq-client';
import { createBrokerClient, PRESENCE_QUEUE } from '../../src/broker/broker-client.ts';
import { createFreshVhost, type FreshVhost } from './fresh-vhost.ts';

describe('broker client: opening its channel', () => {
  let vhost: FreshVhost;
  let connection: Connection;

  before(async () => {
    vhost = await createFreshVhost();
    connection = new Connection({ url: vhost.url(), acquireTimeout: 2000, connectionTimeout: 3000 });
  });
  after(async () => {
    await connection.close();
    await vhost.drop();
  });

  /** The connection, whose first `failures` channels fail their consume of the presence queue as RabbitMQ's `noproc` does. */
  function failingFirst(failures: number): { connection: Connection; opened: () => number } {
    let opened = 0;
    const wrapped = Object.create(connection) as Connection;
    wrapped.acquire = async () => {
      const ch = await connection.acquire();
      opened += 1;
      if (opened <= failures) {
        const consume = ch.basicConsume.bind(ch);
        ch.basicConsume = ((params: { queue?: string }, handler: never) => {
          if (params.queue !== PRESENCE_QUEUE) return consume(params as never, handler);
          void ch.close();
          return Promise.reject(new Error('CHANNEL_ERROR: noproc (injected)'));
        }) as typeof ch.basicConsume;
      }
      return ch;
    };
    return { connection: wrapped, opened: () => opened };
  }

  const options = { queues: ['bc.q1'], queueArguments: {}, confirmTimeoutMs: 5000, replyTimeoutMs: 5000 };

  it('tries a failed start again and serves the caller on the next channel', async () => {
    const { connection: flaky, opened } = failingFirst(1);
    const client = createBrokerClient(flaky, options);
    try {
      assert.equal(await client.workers(), 1, 'its own presence consumer, on the second channel');
      assert.equal(opened(), 2);
    } finally {
      await client.close();
    }
  });

  it('answers BROKER_UNAVAILABLE once every start of the channel failed', async () => {
    const { connection: down, opened } = failingFirst(Infinity);
    const client = createBrokerClient(down, options);
    try {
      await assert.rejects(client.workers(), { code: 'BROKER_UNAVAILABLE' });
      assert.equal(opened(), 3, 'three starts, then the caller is told');
    } finally {
      await client.close();
    }
  });
});
