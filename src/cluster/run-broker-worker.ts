/**
 * A cluster worker in broker mode: the primary only shares the HTTP port, supervises and sums
 * metrics; shard ownership comes from RabbitMQ (src/broker), not from the primary's table, so a table
 * is acknowledged without being applied, and inputs go to their owner through the broker.
 */
import type { BootstrapOptions } from '../bootstrap.ts';
import { type BrokerHost, startBrokerHost } from '../broker/start-broker-host.ts';
import type { ToPrimary } from './messages.ts';
import { answerPrimary } from './answer-primary.ts';

/** Runs a broker-mode worker in this (forked) process until the primary says drain. */
export async function runBrokerWorker(options: BootstrapOptions = {}): Promise<BrokerHost> {
  const send = (message: ToPrimary) => process.send?.(message);
  const app = await startBrokerHost(options);
  const primary = answerPrimary({
    send,
    run: (input) => app.dispatch(input),
    registry: app.metrics.registry,
    close: () => app.close(),
    onTable: (message) => send({ kind: 'table-applied', version: message.table.version }),
  });
  app.setMetricsSource(primary.clusterMetrics);
  // No direct channel: inputs reach their owner through the broker, never from another worker.
  send({ kind: 'ready', peer: '' });
  return app;
}
