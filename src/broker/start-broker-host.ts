/**
 * Starts one botflow process in broker mode: the usual bootstrap owning no shard at first, linked to
 * RabbitMQ so it serves the partitions whose queues deliver to it and sends every other input through
 * its partition's queue. Closing it first stops consuming (its partitions move to other hosts), then
 * closes botflow as usual.
 */
import { type BootstrapOptions, type BotflowApp, bootstrap } from '../bootstrap.ts';
import { BotflowError } from '../errors.ts';
import { type BrokerNode, type BrokerNodeOptions, startBrokerNode } from './start-broker-node.ts';

/** Broker tuning for tests (probe period, heartbeat, timeouts); the URL and partitions come from the config. */
export type BrokerTuning = Partial<Omit<BrokerNodeOptions, 'url' | 'partitions' | 'name'>>;

/** A botflow in broker mode, with its broker link. */
export interface BrokerHost extends BotflowApp {
  broker: BrokerNode;
}

/** Starts botflow in broker mode; CONFIG_INVALID without BOTFLOW_BROKER_URL. */
export async function startBrokerHost(
  options: BootstrapOptions = {},
  tuning: BrokerTuning = {},
): Promise<BrokerHost> {
  const app = await bootstrap({ ...options, ownAllShards: false });
  const url = app.config.brokerUrl;
  if (url === undefined) {
    await app.close();
    throw new BotflowError('CONFIG_INVALID', 'broker mode needs BOTFLOW_BROKER_URL');
  }
  const broker = startBrokerNode(app, {
    ...tuning,
    url,
    partitions: app.config.brokerPartitions,
    name: options.workerId ?? `botflow-${process.pid}`,
  });
  const close = app.close;
  return Object.assign(app, {
    broker,
    async close() {
      await broker.close();
      await close();
    },
  });
}
