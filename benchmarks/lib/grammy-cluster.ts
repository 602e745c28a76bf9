/**
 * The stateless grammY bot (`grammy-webhook-bot.ts`) as a `node:cluster` of BENCH_PROCESSES workers
 * on one port (the primary hands connections out round-robin, as botflow's cluster does): the same
 * bot at 1 and 2 processes under the same load shows what a second process costs on this machine
 * with no state to share, the control for botflow's 2-worker ratio. Tells its parent
 * `{ port, pids }` (pids: the workers); stops the workers when the parent disconnects.
 */
import cluster, { type Worker } from 'node:cluster';

const count = Math.max(1, Number(process.env['BENCH_PROCESSES'] ?? 2));
cluster.setupPrimary({ exec: new URL('./grammy-webhook-bot.ts', import.meta.url).pathname });
const workers: Worker[] = [];
const ports = await Promise.all(
  Array.from({ length: count }, () => {
    const worker = cluster.fork();
    workers.push(worker);
    return new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => resolve(m.port));
      worker.once('exit', (code) => reject(new Error(`a grammY worker exited (${code})`)));
    });
  }),
);
if (new Set(ports).size !== 1) throw new Error(`workers listen on different ports: ${ports.join(', ')}`);
process.send?.({ port: ports[0], pids: workers.map((w) => w.process.pid) });
process.on('disconnect', () => {
  for (const worker of workers) worker.disconnect();
});
