/**
 * `botflow demo [--buyers N] [--workers W] [--json] [--keep] [--serve]`: the whole funnel offline (see
 * src/demo/run-demo.ts). Shows a progress bar and a funnel report ending with the console's URL and how
 * to sign in; with --json the report is one JSON object on stdout and logs and progress go to stderr.
 * --serve keeps botflow and its console up until Ctrl-C. Exits 0 only when every paid order has its
 * access and exactly one Purchase; Ctrl-C during the run stops it (exit 130) after removing what it
 * wrote, as a finished run does.
 */
import cliProgress from 'cli-progress';
import pino from 'pino';
import { createLogger } from '../../observability/logger.ts';
import { BotflowError } from '../../errors.ts';
import { runDemo, type DemoReport, type DemoServing } from '../../demo/run-demo.ts';
import type { CliIo } from '../io.ts';

const LABELS: Array<[keyof DemoReport, string]> = [
  ['clicks', 'ad clicks on the tracking link'],
  ['starts', '/start in the bot'],
  ['charges', 'PIX charges created'],
  ['paid', 'paid'],
  ['expired', 'expired (went to the downsell)'],
  ['access_granted', 'access granted (invite links)'],
  ['joined', 'joined the group (join request approved)'],
  ['purchase_events_sent', 'Purchase events received by Meta'],
  ['purchases_from_tracked_clicks', '  of them from tracked ad clicks'],
  ['purchase_events_with_fbc', '  with fbc'],
  ['purchase_events_with_fbp', '  with fbp'],
  ['purchase_events_with_ip_ua', '  with IP and user agent'],
  ['purchase_events_with_em', "  with the buyer's e-mail (em)"],
  ['purchase_events_with_ph', "  with the buyer's phone (ph)"],
  ['duplicate_events', 'duplicate Purchase events'],
  ['lost_events', 'paid orders without a Purchase'],
  ['paid_without_access', 'paid orders without access'],
  ['errors', 'buyer errors'],
  ['p50_ms', 'webhook → committed p50 (ms)'],
  ['p99_ms', 'webhook → committed p99 (ms)'],
];

/** Runs `run` with an abort signal that SIGINT, SIGTERM or SIGHUP fires. */
async function withStopSignal<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, stop);
  try {
    return await run(controller.signal);
  } finally {
    for (const signal of signals) process.off(signal, stop);
  }
}

/** Runs the demo. */
export async function runDemoCommand(
  io: CliIo,
  env: Record<string, string | undefined>,
  options: { buyers?: string; workers?: string; json: boolean; keep?: boolean; serve?: boolean },
): Promise<number> {
  const buyers = options.buyers === undefined ? 50 : Number(options.buyers);
  if (!Number.isInteger(buyers) || buyers < 1 || buyers > 100_000)
    throw new BotflowError('BAD_REQUEST', '--buyers must be an integer from 1 to 100000');
  const workers = options.workers === undefined ? 1 : Number(options.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw new BotflowError('BAD_REQUEST', '--workers must be an integer from 1 to 64');
  const bar = new cliProgress.SingleBar(
    { format: 'buyers {bar} {value}/{total}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const logger = createLogger({ level: env['LOG_LEVEL'] ?? 'warn', destination: pino.destination(2) });
  bar.start(buyers, 0);
  let report: DemoReport;
  try {
    report = await withStopSignal((signal) =>
      runDemo({
        buyers,
        workers,
        env,
        logger,
        keep: options.keep === true,
        signal,
        onProgress: (done) => bar.update(done),
        ...(options.json && options.serve !== true
          ? {}
          : {
              whileServing: async (serving: DemoServing) => {
                bar.stop();
                if (!options.json) printReport(io, serving.report);
                printConsole(options.json ? io.stderr : io.stdout, serving, env, options.serve === true);
                if (options.serve === true) await untilAborted(signal);
              },
            }),
      }),
    );
  } catch (error) {
    if ((error as BotflowError).code !== 'SHUTTING_DOWN') throw error;
    bar.stop();
    io.stderr.write(
      `\nbotflow demo interrupted${options.keep === true ? '' : '; what it wrote was removed'}\nbotflow stopped\n`,
    );
    return 130;
  } finally {
    bar.stop();
  }
  if (options.json) io.stdout.write(`${JSON.stringify(report)}\n`);
  if (options.serve === true) io.stderr.write('botflow stopped\n');
  return report.ok ? 0 : 1;
}

/** Resolves once `signal` aborts (Ctrl-C). */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Prints where the console is and how to sign in: the run's own one-time admin token (made for this
 * run, gone when it ends), or a pointer to the operator's BOTFLOW_ADMIN_TOKEN (never printed).
 */
function printConsole(
  out: CliIo['stdout'],
  serving: DemoServing,
  env: Record<string, string | undefined>,
  serve: boolean,
): void {
  const own = (env['BOTFLOW_ADMIN_TOKEN'] ?? '').trim() !== '';
  out.write(`\nConsole: ${serving.url}/console${serve ? '' : ' (run with --serve to keep it open)'}\n`);
  out.write(
    own
      ? 'Sign in with your BOTFLOW_ADMIN_TOKEN.\n'
      : `Sign in with this run's one-time admin token: ${serving.adminToken}\n`,
  );
  if (serve) out.write('Serving until Ctrl-C.\n');
}

/** Prints the funnel report as a table. */
function printReport(io: CliIo, report: DemoReport): void {
  const width = Math.max(...LABELS.map(([, l]) => l.length));
  io.stdout.write(
    `\nbotflow demo: ${report.buyers} buyers, ${report.workers} worker${report.workers === 1 ? '' : 's'}, ${(report.duration_ms / 1000).toFixed(1)} s\n\n`,
  );
  for (const [key, label] of LABELS) io.stdout.write(`  ${label.padEnd(width)}  ${String(report[key])}\n`);
  for (const sample of report.error_samples) io.stdout.write(`  ! ${sample}\n`);
  io.stdout.write(
    `\n${report.ok ? 'OK: every paid order has access and exactly one Purchase.' : 'FAILED: see above.'}\n`,
  );
}
