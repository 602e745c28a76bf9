/**
 * Stopping botflow the ways an operator does: Ctrl-C in a terminal (through a real pseudo-terminal,
 * `script` from util-linux), and SIGTERM from a process manager to the process it started (`npx
 * botflow start`, or the shim re-executing on Node 22 with a two-worker cluster behind it).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { waitFor } from '../support/wait-for.ts';
import { freePort } from '../../src/sim/free-port.ts';

const root = join(import.meta.dirname, '..', '..');
const node = process.execPath;
const cli = join(root, 'src', 'cli.ts');

/** Whether something can still bind `port`. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The pids of every live descendant of `pid` (read from /proc). */
function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents)
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
  };
  walk(pid);
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Collects a child's output and resolves its exit. */
function watch(child: ChildProcess) {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited };
}

/** Runs `argv` in a pseudo-terminal, waits for `ready` in its output, presses Ctrl-C, and times the stop. */
async function pressCtrlC(argv: string[], ready: RegExp, env: Record<string, string>) {
  const command = argv.map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const run = watch(child);
  try {
    await waitFor('the command to be up', () => ready.test(run.output()), 60_000, 50);
    const pressed = Date.now();
    child.stdin.write('\x03');
    const code = await Promise.race([
      run.exited,
      new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 15_000).unref()),
    ]);
    return { code, seconds: (Date.now() - pressed) / 1000, output: run.output() };
  } finally {
    for (const pid of descendantsOf(child.pid!)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
  }
}

describe('Ctrl-C in a terminal', { timeout: 120_000 }, () => {
  it('stops `botflow start` on the embedded database within seconds, ending with "botflow stopped"', async () => {
    const port = await freePort();
    const run = await pressCtrlC([node, cli, 'start'], /listening on/, {
      BOTFLOW_DATA_DIR: await mkdtemp(join(tmpdir(), 'botflow-ctrlc-')),
      PORT: String(port),
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: 'info',
      BOTFLOW_WORKERS: '2',
    });
    assert.ok(run.code === 0 || run.code === 130, `exit ${run.code}: ${run.output}`);
    // One process on the embedded stores: said at start, not silently.
    assert.match(run.output, /"level":40[^\n]*BOTFLOW_WORKERS=2 ignored/);
    assert.ok(run.seconds < 10, `took ${run.seconds} s`);
    assert.match(run.output, /botflow stopped[^\n]*\s*$/);
    assert.equal(await portIsFree(port), true);
  });

  it('stops `botflow demo` mid-run with exit 130, ending with "botflow stopped"', async () => {
    const run = await pressCtrlC([node, cli, 'demo', '--buyers', '5000'], /buyers .* [1-9]\d*\/5000/, {
      BOTFLOW_DATA_DIR: await mkdtemp(join(tmpdir(), 'botflow-ctrlc-demo-')),
      DATABASE_URL: '',
      REDIS_URL: '',
    });
    assert.equal(run.code, 130, run.output);
    assert.ok(run.seconds < 10, `took ${run.seconds} s`);
    assert.match(run.output, /interrupted[^\n]*\r?\nbotflow stopped\s*$/);
  });
});

/** Starts `argv` detached from the test's terminal, waits until `port` answers /readyz, returns its tree. */
async function startServer(argv: string[], port: number, env: Record<string, string>) {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = watch(child);
  await waitFor(
    'botflow to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${run.output()}`);
      const answer = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
      return answer?.status === 200;
    },
    90_000,
    200,
  );
  return { child, run, tree: [child.pid!, ...descendantsOf(child.pid!)] };
}

/** SIGTERMs the process a manager would have started and checks the whole tree is gone and the port free. */
async function stopWithSigterm(server: Awaited<ReturnType<typeof startServer>>, port: number) {
  try {
    server.child.kill('SIGTERM');
    await waitFor(
      'every process of the tree to exit',
      () => server.tree.every((pid) => !alive(pid)),
      40_000,
      100,
    );
    assert.equal(await portIsFree(port), true, 'the port is free again');
  } finally {
    for (const pid of server.tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

describe('SIGTERM to the process a process manager started', { timeout: 240_000 }, () => {
  let fresh: FreshDatabase;
  before(async () => {
    fresh = await createFreshDatabase();
  });
  after(async () => {
    await fresh.drop();
  });

  it('`npx botflow start` (embedded): botflow drains and nothing of the tree is left', async () => {
    const port = await freePort();
    const server = await startServer(['npx', '--no-install', 'botflow', 'start'], port, {
      BOTFLOW_DATA_DIR: await mkdtemp(join(tmpdir(), 'botflow-npx-')),
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: 'info',
    });
    assert.ok(server.tree.length >= 2, 'npx runs botflow as a child');
    await stopWithSigterm(server, port);
    assert.match(server.run.output(), /botflow stopped/);
  });

  it('the shim on an older Node with a two-worker cluster: primary and workers stop', async () => {
    // The machine's Node when older than 22.18 (the shim then re-executes on the pinned Node 22).
    const older = ['/usr/bin/node', '/usr/local/bin/node'].find(
      (path) =>
        existsSync(path) &&
        Number(execFileSync(path, ['-p', 'process.versions.node.split(".")[0]']).toString()) < 22,
    );
    const port = await freePort();
    const server = await startServer([older ?? node, join(root, 'bin', 'botflow.js'), 'start'], port, {
      DATABASE_URL: fresh.url,
      REDIS_URL: process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379',
      BOTFLOW_REDIS_PREFIX: `bf-test-${randomBytes(4).toString('hex')}`,
      BOTFLOW_WORKERS: '2',
      LOG_LEVEL: 'warn',
    });
    assert.ok(server.tree.length >= 3, `primary and two workers: ${server.tree.join(' ')}`);
    await stopWithSigterm(server, port);
    assert.match(server.run.output(), /botflow stopped/);
  });
});
