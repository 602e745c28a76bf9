/**
 * What every kind of cluster worker answers its primary the same way: injected inputs, the metrics
 * collection both ways (its own part, and the whole cluster's text for its `/metrics`), and drain.
 * Only the shard table is handled by each kind itself.
 */
import type { Registry } from 'prom-client';
import { BotflowError, toWireError } from '../errors.ts';
import type { RoutedInput, ToPrimary, ToWorker } from './messages.ts';

const METRICS_TIMEOUT_MS = 15_000;

export interface PrimaryChannelOptions {
  send(message: ToPrimary): void;
  /** Runs an injected input (routed to its owner). */
  run(input: RoutedInput): Promise<unknown>;
  registry: Registry;
  /** Stops the worker before it exits on drain. */
  close(): Promise<void>;
  /** The table's handling, which differs by kind of worker. */
  onTable(message: Extract<ToWorker, { kind: 'table' }>): void;
}

/** Listens to the primary on this process's IPC; answers the whole cluster's metrics text on demand. */
export function answerPrimary(options: PrimaryChannelOptions): { clusterMetrics(): Promise<string> } {
  const { send } = options;
  const waiting = new Map<number, { resolve(text: string): void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  process.on('message', (message: ToWorker) => {
    switch (message.kind) {
      case 'table':
        options.onTable(message);
        break;
      case 'inject':
        options.run(message.input).then(
          (result) => send({ kind: 'inject-reply', id: message.id, ok: true, result }),
          (error: unknown) =>
            send({ kind: 'inject-reply', id: message.id, ok: false, error: toWireError(error) }),
        );
        break;
      case 'metrics-collect':
        void options.registry
          .getMetricsAsJSON()
          .then((metrics) => send({ kind: 'metrics-part', id: message.id, metrics }));
        break;
      case 'metrics-reply': {
        const waiter = waiting.get(message.id);
        if (waiter === undefined) break;
        waiting.delete(message.id);
        clearTimeout(waiter.timer);
        waiter.resolve(message.text);
        break;
      }
      case 'drain':
        void options.close().then(() => process.exit(0));
        break;
    }
  });
  return {
    clusterMetrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new BotflowError('INTERNAL', 'the cluster primary did not return metrics in time'));
        }, METRICS_TIMEOUT_MS);
        waiting.set(id, { resolve, timer });
        send({ kind: 'metrics-request', id });
      }),
  };
}
