/**
 * A cluster worker in broker mode: the primary only shares the HTTP port, supervises and sums
 * metrics; shard ownership comes from RabbitMQ (src/broker), not from the primary's table, so a table
 * is acknowledged without being applied, and inputs go to their owner through the broker.
 */
import type { BootstrapOptions } from '../bootstrap.ts';
import { type BrokerHost, startBrokerHost } from '../broker/start-broker-host.ts';
import { BotflowError, toBotflowError } from '../errors.ts';
import type { ToPrimary, ToWorker, WireError } from './messages.ts';

const METRICS_TIMEOUT_MS = 15_000;

function toWire(error: unknown): WireError {
  const coded = toBotflowError(error);
  return { code: coded.code, message: coded.code === 'INTERNAL' ? 'internal error' : coded.message };
}

/** Runs a broker-mode worker in this (forked) process until the primary says drain. */
export async function runBrokerWorker(options: BootstrapOptions = {}): Promise<BrokerHost> {
  const send = (message: ToPrimary) => process.send?.(message);
  const app = await startBrokerHost(options);
  const metrics = new Map<number, { resolve(text: string): void; timer: NodeJS.Timeout }>();
  let nextId = 1;

  app.setMetricsSource(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          metrics.delete(id);
          reject(new BotflowError('INTERNAL', 'the cluster primary did not return metrics in time'));
        }, METRICS_TIMEOUT_MS);
        metrics.set(id, { resolve, timer });
        send({ kind: 'metrics-request', id });
      }),
  );

  process.on('message', (message: ToWorker) => {
    switch (message.kind) {
      case 'table':
        send({ kind: 'table-applied', version: message.table.version });
        break;
      case 'inject':
        app.dispatch(message.input).then(
          (result) => send({ kind: 'inject-reply', id: message.id, ok: true, result }),
          (error: unknown) => send({ kind: 'inject-reply', id: message.id, ok: false, error: toWire(error) }),
        );
        break;
      case 'metrics-collect':
        void app.metrics.registry
          .getMetricsAsJSON()
          .then((parts) => send({ kind: 'metrics-part', id: message.id, metrics: parts }));
        break;
      case 'metrics-reply': {
        const waiter = metrics.get(message.id);
        if (waiter === undefined) break;
        metrics.delete(message.id);
        clearTimeout(waiter.timer);
        waiter.resolve(message.text);
        break;
      }
      case 'drain':
        void app.close().then(() => process.exit(0));
        break;
    }
  });
  // No direct channel: inputs reach their owner through the broker, never from another worker.
  send({ kind: 'ready', peer: '' });
  return app;
}
