/**
 * `botflow start [--polling]`: runs botflow until SIGINT/SIGTERM, then drains mailboxes, commits and
 * effects before exiting. With no DATABASE_URL it runs on the embedded database in BOTFLOW_DATA_DIR.
 * `--polling` fetches updates with getUpdates instead of webhooks (development, no public URL): one
 * process, since Telegram allows one poller per bot.
 */
import { bootstrap } from '../../bootstrap.ts';
import { startPrimary } from '../../cluster/start-primary.ts';
import { loadConfig } from '../../config.ts';
import { BotflowError } from '../../errors.ts';
import type { CliIo } from '../io.ts';

/** How long a drain may take before `start` gives up and exits 1. */
const SHUTDOWN_DEADLINE_MS = 30_000;

function stopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** Starts, prints where it listens, and resolves with the exit code once stopped by a signal. */
export async function runStart(
  io: CliIo,
  env: Record<string, string | undefined>,
  options: { polling?: boolean } = {},
): Promise<number> {
  const config = loadConfig(env);
  const polling = options.polling === true;
  // Polling runs in this one process; an explicit request for more workers is a contradiction.
  if (polling && config.workers > 1 && (env['BOTFLOW_WORKERS'] ?? '').trim() !== '')
    throw new BotflowError(
      'BAD_REQUEST',
      '--polling runs one process (Telegram allows one poller per bot): unset BOTFLOW_WORKERS or set it to 1',
    );
  if (config.workers > 1 && !polling) {
    // Production: a primary that routes and supervises, workers that share the HTTP port.
    const primary = await startPrimary({ workers: config.workers, env });
    await primary.settled();
    io.stderr.write(`botflow listening on port ${config.port} with ${config.workers} workers\n`);
    await stopped();
    io.stderr.write('botflow draining...\n');
    await primary.stop();
    return 0;
  }
  const app = await bootstrap({ env, http: { host: env['HOST'] ?? '127.0.0.1' }, polling });
  app.logger.info(
    { url: app.url, embedded: app.db.embedded, admin_api: app.config.adminToken !== undefined, polling },
    'botflow started',
  );
  io.stderr.write(
    `botflow listening on ${app.url} (${app.db.embedded ? 'embedded database' : app.db.url})\n`,
  );
  if (polling)
    io.stderr.write(
      'polling Telegram for updates (development mode: one process; webhooks of registered bots deleted)\n',
    );
  await stopped();
  io.stderr.write('botflow draining...\n');
  // Everything accepted is committed before the drain; a close that never finishes must not keep a
  // supervisor waiting forever: what is left (outbox rows, timers) is picked up by the next start.
  let deadline: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    app.close().then(() => true),
    new Promise<false>((resolve) => {
      deadline = setTimeout(() => resolve(false), SHUTDOWN_DEADLINE_MS);
      deadline.unref();
    }),
  ]);
  clearTimeout(deadline);
  if (finished) return 0;
  io.stderr.write(
    `botflow: stopping took over ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting, the outbox and timers resume on the next start\n`,
  );
  return 1;
}
