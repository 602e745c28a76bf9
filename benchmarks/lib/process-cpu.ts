/**
 * CPU time of processes by pid, read from /proc/<pid>/stat (user + system, all threads), for the
 * benchmarks that split a system's CPU by process. A process that is gone reads as undefined.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The CPU ms `pid` has used so far, or undefined when it is gone (or not Linux). */
export function readCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU ms of each pid at one moment. */
export function snapshotCpu(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const ms = readCpuMs(pid);
    if (ms !== undefined) out.set(pid, ms);
  }
  return out;
}

/** The CPU ms used between two snapshots, summed over pids (a pid first seen in `after` counts whole). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
