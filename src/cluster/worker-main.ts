/**
 * Entry point of a forked cluster worker. The primary coordinates shutdown (it sends `drain`), so a
 * terminal's Ctrl-C reaching the whole process group is ignored here; if the primary goes away, the
 * worker drains and exits on its own.
 */
import { runWorker } from './run-worker.ts';

process.on('SIGINT', () => {});
const worker = await runWorker({
  workerId: `worker-${process.env['BOTFLOW_WORKER_SLOT'] ?? '?'}-${process.pid}`,
  // Same listening address as a single-process `botflow start`.
  http: { host: process.env['HOST'] ?? '127.0.0.1' },
});
process.on('disconnect', () => {
  void worker.close().finally(() => process.exit(0));
});
