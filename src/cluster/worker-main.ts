/**
 * Entry point of a forked cluster worker. The primary coordinates shutdown (it sends `drain`), so a
 * terminal's Ctrl-C reaching the whole process group is ignored here; if the primary goes away, the
 * worker drains and exits on its own. With BOTFLOW_BROKER_URL set it runs in broker mode.
 */
import { runBrokerWorker } from './run-broker-worker.ts';
import { runWorker } from './run-worker.ts';

process.on('SIGINT', () => {});
// Broker mode: shard ownership comes from RabbitMQ, not from the primary's table.
const run = (process.env['BOTFLOW_BROKER_URL'] ?? '').trim() === '' ? runWorker : runBrokerWorker;
const worker = await run({
  workerId: `worker-${process.env['BOTFLOW_WORKER_SLOT'] ?? '?'}-${process.pid}`,
  // Same listening address as a single-process `botflow start`.
  http: { host: process.env['HOST'] ?? '127.0.0.1' },
});
process.on('disconnect', () => {
  void worker.close().finally(() => process.exit(0));
});
