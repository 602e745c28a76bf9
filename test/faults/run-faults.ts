/**
 * `npm run faults`: the fault suite. Runs the demo funnel on a real 2-worker cluster (its own
 * process tree, its own database and Redis prefix, Postgres and Redis behind TCP proxies) once per
 * fault, prints one JSON object per fault on stdout (progress and logs on stderr), and exits 1 when
 * any guarantee failed. See test/faults/README.md.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULTS, type FaultName, runFault } from './run-fault.ts';
import { closeAll, killAllSync } from './start-cluster.ts';

const HELP = `Usage: npm run faults -- [options]

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

Needs Postgres (DATABASE_TEST_URL, default postgres://postgres@127.0.0.1:5432/postgres) and Redis
(REDIS_TEST_URL, default redis://127.0.0.1:6379); each fault gets a fresh database, dropped after.
`;

/** Parses the options; throws a message for bad ones. */
function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      buyers: { type: 'string', default: '150' },
      'cut-seconds': { type: 'string', default: '20' },
      'stuck-seconds': { type: 'string', default: '30' },
      only: { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
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
