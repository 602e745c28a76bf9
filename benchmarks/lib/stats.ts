/** Small statistics helpers shared by the benchmarks. */

/** The q-quantile (0..1) of `values` (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Rounds to `digits` decimals for readable JSON. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Node version, CPU count and the host's 1-minute load average when called (other work sharing the machine), printed with every result. */
export async function environment(): Promise<{ node: string; cpus: number; load_avg_1m: number }> {
  const { availableParallelism, loadavg } = await import('node:os');
  return { node: process.version, cpus: availableParallelism(), load_avg_1m: round(loadavg()[0]!, 2) };
}
