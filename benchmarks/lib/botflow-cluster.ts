/**
 * The webhook benchmark's botflow under test, as its own process tree: this process is the cluster
 * primary (`startPrimary`), its children the workers, so the benchmark can read each one's CPU time.
 * Reads BENCH_WORKERS and passes its environment to the workers; tells its parent `{ pids }` once the
 * cluster is settled, and stops the cluster when the parent disconnects.
 */
import { startPrimary } from '../../src/cluster/start-primary.ts';

const primary = await startPrimary({
  workers: Number(process.env['BENCH_WORKERS'] ?? 1),
  workerStdout: 'stderr',
});
await primary.settled();
process.send?.({ pids: primary.pids().filter((pid) => pid !== undefined) });
process.on('disconnect', () => {
  void primary.stop().finally(() => process.exit(0));
});
