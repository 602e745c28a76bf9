/**
 * Runs the fault suite (`run-faults.ts`, what `npm run faults` runs) as its own process with `args`, and
 * resolves with its exit code, stdout, stderr and pid once it has exited. Past `timeoutMs` it gets a
 * SIGTERM, which lets it stop its clusters or hosts and drop what it created.
 */
import { spawn } from 'node:child_process';

const SCRIPT = new URL('./run-faults.ts', import.meta.url).pathname;

/** What a run of the suite printed, and how it ended. */
export interface SuiteRun {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs the suite with `args`. */
export function runSuite(args: string[], timeoutMs: number): Promise<SuiteRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, pid: child.pid! });
    });
  });
}
