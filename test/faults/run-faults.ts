/**
 * `npm run faults`: the fault suite. Runs the demo funnel on a real 2-worker cluster (its own
 * process tree, its own database and Redis prefix, Postgres and Redis behind TCP proxies) once per
 * fault, prints one JSON object per fault on stdout (progress and logs on stderr), and exits 1 when
 * any guarantee failed. `npm run faults -- hosts` runs the hosts scenario instead (run-hosts.ts): 3
 * botflow hosts in broker mode, one killed. See test/faults/README.md.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULTS, type FaultName, runFault } from './run-fault.ts';
import { runHosts } from './run-hosts.ts';
import { closeAll, killAllSync } from './start-cluster.ts';

const HELP = `Usage: npm run faults -- [options]
       npm run faults -- hosts [options]

Runs the demo funnel on a 2-worker botflow cluster once per fault and prints one JSON line per fault.
Exits 1 when any guarantee failed (loss, duplicate charge/grant/Purchase, stuck or dead effects,
duplicate sends without a crash, forged input accepted or answered 5xx), 2 on bad options.

Options:
  --buyers N          buyers per fault (default 150)
  --cut-seconds S     how long Postgres / Redis are cut (default 20)
  --stuck-seconds S   an effect still pending S seconds after recovery is stuck (default 30)
  --only LIST         comma-separated faults to run (default all): ${FAULTS.join(', ')}
  --log-level LEVEL   botflow's LOG_LEVEL (default warn); its output goes to the log file in each report
  --help              this help

hosts: N botflow hosts in broker mode (BOTFLOW_BROKER_URL), each in its own network namespace (or
plain processes where namespaces are refused), sharing Postgres, Redis and a RabbitMQ vhost of its
own; the same webhook load through 1..N hosts, then the buyers through all N and a kill -9 of one.
Prints one JSON object; exits 1 on loss, a duplicate, a stuck effect, a shard not served again, or
a failover slower than --failover-limit. Options: --buyers (default 150), --stuck-seconds, --log-level,
  --hosts N           hosts (default 3)
  --workers W         workers per host (default 2)
  --load-users U      users of the throughput load per host count, 4 updates each (default 200; 0 skips)
  --failover-limit S  the longest failover that holds, in seconds (default 5)
  --processes         plain processes on loopback instead of network namespaces
  --broker-cut-seconds S  also cut RabbitMQ off every live host for S s once half the buyers are done
Also needs RabbitMQ (RABBITMQ_TEST_URL, default amqp://guest:guest@127.0.0.1:5672) and rabbitmqctl.

Needs Postgres (DATABASE_TEST_URL, default postgres://postgres@127.0.0.1:5432/postgres) and Redis
(REDIS_TEST_URL, default redis://127.0.0.1:6379); each fault gets a fresh database, dropped after.
`;

/** Parses the options; throws a message for bad ones. */
function readOptions(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      buyers: { type: 'string', default: '150' },
      'cut-seconds': { type: 'string', default: '20' },
      'stuck-seconds': { type: 'string', default: '30' },
      only: { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      hosts: { type: 'string', default: '3' },
      workers: { type: 'string', default: '2' },
      'load-users': { type: 'string', default: '200' },
      'failover-limit': { type: 'string', default: '5' },
      processes: { type: 'boolean', default: false },
      'broker-cut-seconds': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'hosts'))
    throw new Error(`the only scenario is hosts (got ${positionals.join(' ')})`);
  const int = (name: string, value: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const only = (values.only ?? FAULTS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = only.filter((f) => !(FAULTS as readonly string[]).includes(f));
  if (unknown.length > 0 || only.length === 0)
    throw new Error(`--only takes faults among ${FAULTS.join(', ')} (got ${unknown.join(', ') || 'none'})`);
  return {
    help: values.help,
    scenario: positionals[0] === 'hosts' ? ('hosts' as const) : ('faults' as const),
    hosts: int('hosts', values.hosts, 2, 9),
    workersPerHost: int('workers', values.workers, 1, 16),
    loadUsers: int('load-users', values['load-users'], 0, 100_000),
    failoverLimitSeconds: int('failover-limit', values['failover-limit'], 1, 600),
    processes: values.processes,
    brokerCutSeconds: int('broker-cut-seconds', values['broker-cut-seconds'], 0, 600),
    faults: only as FaultName[],
    buyers: int('buyers', values.buyers, 1, 10_000),
    cutSeconds: int('cut-seconds', values['cut-seconds'], 1, 600),
    stuckSeconds: int('stuck-seconds', values['stuck-seconds'], 1, 600),
    logLevel: values['log-level'],
  };
}

/** Runs the suite; resolves with the exit code. */
async function main(argv: string[]): Promise<number> {
  let options: ReturnType<typeof readOptions>;
  try {
    options = readOptions(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const logDir = join(tmpdir(), 'botflow-faults');
  const log = (message: string) => process.stderr.write(`[faults ${new Date().toISOString()}] ${message}\n`);
  if (options.scenario === 'hosts') {
    log(`hosts: starting (${options.hosts} hosts, ${options.buyers} buyers)`);
    const report = await runHosts({ ...options, logDir, log });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    log(`hosts: ${report.ok ? 'ok' : `FAILED: ${report.failures.join('; ')}`}`);
    return report.ok ? 0 : 1;
  }
  let failed = false;
  for (const fault of options.faults) {
    log(`${fault}: starting (${options.buyers} buyers)`);
    const report = await runFault(fault, { ...options, logDir, log });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    log(`${fault}: ${report.ok ? 'ok' : `FAILED: ${report.failures.join('; ')}`}`);
    failed ||= !report.ok;
  }
  return failed ? 1 : 0;
}

process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping botflow and dropping the databases...\n`);
    const hard = setTimeout(() => process.exit(130), 20_000);
    void closeAll().finally(() => {
      clearTimeout(hard);
      process.exit(130);
    });
  });

process.exitCode = await main(process.argv.slice(2));
