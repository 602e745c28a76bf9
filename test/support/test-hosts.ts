/**
 * Test support: N "machines" on this one, each a Linux network namespace (`ip netns add`) joined to the
 * root namespace by its own veth pair on a 10.x /30 that is unique per run. A process started in one
 * sees only its own loopback and its veth: whatever it reaches (Postgres, Redis, RabbitMQ, the
 * stand-ins) must be offered on a root-side address, so the harness decides, per machine, what it can
 * reach and can cut it. Namespaces are removed on close and at exit, even after a failure; a new run
 * first sweeps the namespaces of runs whose process is gone. Where the machine refuses namespaces
 * (not root, no `ip`), the "machines" are plain processes on loopback, and `isolation` says so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Every namespace this module makes is named `<PREFIX><pid of the run>-<index>`. */
export const NETNS_PREFIX = 'bfhost';

/** One test machine. */
export interface TestHost {
  index: number;
  /** The namespace's name, or null when the hosts are plain processes. */
  netns: string | null;
  /** The host's own address: where its botflow listens (inside the namespace). */
  address: string;
  /** The root namespace's end of the host's veth: where the harness offers it services. */
  gateway: string;
  /** The command that runs `argv` on this host (`ip netns exec <ns> ...`, or `argv` itself). */
  command(argv: string[]): { file: string; args: string[] };
}

/** The test machines of one run. */
export interface TestHosts {
  isolation: 'netns' | 'processes';
  /** Why the namespaces could not be made (isolation `processes`). */
  refused: string | null;
  hosts: TestHost[];
  /** An address every host can reach in the root namespace (stand-ins, the front door). */
  shared: string;
  /** Removes the namespaces (and with them the veth pairs); safe to call twice. */
  close(): void;
}

const ip = (args: string[]) =>
  execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });

/** Whether a process with this pid exists. */
function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** The pids in a namespace (`ip netns pids`). */
function pidsIn(netns: string): number[] {
  try {
    return ip(['netns', 'pids', netns]).toString('utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Deletes a namespace, first killing what a dead run left running in it; errors ignored. */
function removeNetns(netns: string): void {
  for (const pid of pidsIn(netns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  try {
    ip(['netns', 'del', netns]);
  } catch {
    // gone already
  }
}

/** Removes the namespaces of earlier runs (this prefix) whose process is gone; returns their names. */
export function sweepStaleNamespaces(): string[] {
  if (!existsSync('/run/netns')) return [];
  const stale = readdirSync('/run/netns').filter((name) => {
    const match = new RegExp(`^${NETNS_PREFIX}(\\d+)-\\d+$`).exec(name);
    return match !== null && Number(match[1]) !== process.pid && !alive(Number(match[1]));
  });
  for (const name of stale) removeNetns(name);
  return stale;
}

/** The 10.x.y.0/24 of this run: derived from the pid, skipping any /24 the root namespace routes already. */
function pickSubnet(): string {
  const routes = ip(['-4', 'route', 'show', 'table', 'all']).toString('utf8');
  for (let attempt = 0; attempt < 200; attempt++) {
    const n = process.pid + attempt * 7919;
    const subnet = `10.${200 + (n % 50)}.${Math.floor(n / 50) % 256}`;
    if (!routes.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 for the test hosts');
}

/** Makes host `index`'s namespace and veth on `subnet`: gateway .4i+1 (root), address .4i+2 (inside). */
function makeHost(subnet: string, index: number, made: string[]): TestHost {
  const netns = `${NETNS_PREFIX}${process.pid}-${index}`;
  const root = `bfh${process.pid}r${index}`.slice(-15);
  const inner = `bfh${process.pid}n${index}`.slice(-15);
  const gateway = `${subnet}.${4 * index + 1}`;
  const address = `${subnet}.${4 * index + 2}`;
  ip(['netns', 'add', netns]);
  made.push(netns);
  ip(['link', 'add', root, 'type', 'veth', 'peer', 'name', inner, 'netns', netns]);
  ip(['addr', 'add', `${gateway}/30`, 'dev', root]);
  ip(['link', 'set', root, 'up']);
  const inside = (args: string[]) => ip(['netns', 'exec', netns, 'ip', ...args]);
  inside(['link', 'set', 'lo', 'up']);
  inside(['addr', 'add', `${address}/30`, 'dev', inner]);
  inside(['link', 'set', inner, 'up']);
  // Everything else goes to the root namespace, which answers for its own addresses only.
  inside(['route', 'add', 'default', 'via', gateway]);
  return {
    index,
    netns,
    address,
    gateway,
    command: (argv) => ({ file: 'ip', args: ['netns', 'exec', netns, ...argv] }),
  };
}

/** Plain processes on loopback: the fallback where namespaces are refused. */
function processHosts(count: number, refused: string): TestHosts {
  const hosts = Array.from({ length: count }, (_, index) => ({
    index,
    netns: null,
    address: '127.0.0.1',
    gateway: '127.0.0.1',
    command: (argv: string[]) => ({ file: argv[0]!, args: argv.slice(1) }),
  }));
  return { isolation: 'processes', refused, hosts, shared: '127.0.0.1', close: () => {} };
}

/**
 * Creates `count` test hosts in network namespaces (after sweeping stale ones), or plain processes
 * on loopback when namespaces are refused or `processes` is asked for. The namespaces go on
 * `close()` or at process exit.
 */
export function createTestHosts(count: number, options: { processes?: boolean } = {}): TestHosts {
  if (options.processes === true) return processHosts(count, 'plain processes were asked for');
  const made: string[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    process.off('exit', close);
    for (const netns of made) removeNetns(netns);
  };
  try {
    sweepStaleNamespaces();
    const subnet = pickSubnet();
    process.on('exit', close);
    const hosts = Array.from({ length: count }, (_, index) => makeHost(subnet, index, made));
    return { isolation: 'netns', refused: null, hosts, shared: hosts[0]!.gateway, close };
  } catch (error) {
    close();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8').trim();
    return processHosts(count, stderr || (error as Error).message);
  }
}
