/**
 * `botflow demo [--buyers N] [--workers W] [--json] [--keep]`: the whole funnel offline (see
 * src/demo/run-demo.ts). Shows a progress bar and a funnel report; with --json the report is one JSON
 * object on stdout and logs and progress go to stderr. Exits 0 only when every paid order has its access
 * and exactly one Purchase; Ctrl-C stops it (exit 130) after removing what it wrote, as a finished run does.
 */
import cliProgress from 'cli-progress';
import pino from 'pino';
import { createLogger } from '../../observability/logger.ts';
import { BotflowError } from '../../errors.ts';
import { runDemo, type DemoReport } from '../../demo/run-demo.ts';
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
  options: { buyers?: string; workers?: string; json: boolean; keep?: boolean },
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
  else {
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
  return report.ok ? 0 : 1;
}
