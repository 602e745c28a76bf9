/** Entry point of a forked cluster worker. */
import { runWorker } from './run-worker.ts';

await runWorker({ workerId: `worker-${process.env['BOTFLOW_WORKER_SLOT'] ?? '?'}-${process.pid}` });
