/**
 * What answering a webhook on the broker's confirm alone would cost: persistent publishes of an
 * input-sized body to a quorum queue (no consumer), `concurrency` at a time, each timed from publish
 * to publisher confirm. Beside botflow's broker row (which answers once committed) it shows the part
 * of the answer time that is the broker's.
 */
import { Connection } from 'rabbitmq-client';
import { preciseNow, runConcurrently } from './http-load.ts';
import { quantile, round } from './stats.ts';

/** Publishes `count` messages and returns confirms/s and confirm latency quantiles. */
export async function measureBrokerConfirms(url: string, count: number, concurrency: number) {
  const connection = new Connection(url);
  const publisher = connection.createPublisher({
    confirm: true,
    queues: [{ queue: 'bench.confirms', durable: true, arguments: { 'x-queue-type': 'quorum' } }],
  });
  const body = Buffer.from(
    JSON.stringify({
      botId: 'bench_bot',
      userId: '1234567',
      event: { type: 'text', text: 'someone@example.com' },
      inputKey: 'tg:bench_bot:123456789',
    }),
  );
  const latencies: number[] = [];
  try {
    const seconds = await runConcurrently(count, concurrency, async () => {
      const sentAt = preciseNow();
      await publisher.send({ routingKey: 'bench.confirms', durable: true }, body);
      latencies.push(preciseNow() - sentAt);
    });
    return {
      messages: count,
      confirms_per_second: round(count / seconds, 1),
      confirm_ms: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
    };
  } finally {
    await publisher.close();
    await connection.close();
  }
}
