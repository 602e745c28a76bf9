/**
 * `botflow start [--polling]`: runs botflow until SIGINT/SIGTERM, then drains mailboxes, commits and
 * effects before exiting. With no DATABASE_URL it runs on the embedded database in BOTFLOW_DATA_DIR.
 * `--polling` fetches updates with getUpdates instead of webhooks (development, no public URL): one
 * process, since Telegram allows one poller per bot.
 */
import { bootstrap } from '../../bootstrap.ts';
import { startBrokerHost } from '../../broker/start-broker-host.ts';
import { startPrimary } from '../../cluster/start-primary.ts';
import { loadConfig } from '../../config.ts';
import { BotflowError } from '../../errors.ts';
import { checkPortFree } from '../check-port-free.ts';
import type { CliIo } from '../io.ts';

/** How long a drain may take before `start` gives up and exits 1. */
const SHUTDOWN_DEADLINE_MS = 30_000;

/**
 * Resolves on the first SIGINT, SIGTERM or SIGHUP. The listeners stay while draining: a terminal's
 * Ctrl-C reaches both the npx shim and botflow, and the shim passes it on, so a second signal must not
 * kill a drain half-way (the shutdown deadline bounds it).
 */
function stopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => resolve());
  });
}

/** Warns when BOTFLOW_WORKERS asks for a cluster that this configuration runs as one process. */
function warnSingleProcess(
  io: CliIo,
  app: { logger: { warn(fields: object, message: string): void } },
  env: Record<string, string | undefined>,
  polling: boolean,
): void {
  const requested = Number((env['BOTFLOW_WORKERS'] ?? '').trim());
  if (polling || !Number.isInteger(requested) || requested <= 1) return;
  const message = `BOTFLOW_WORKERS=${requested} ignored: without REDIS_URL botflow runs one process (the embedded stores serve one process); set DATABASE_URL and REDIS_URL to run ${requested} workers`;
  app.logger.warn({ requested_workers: requested, workers: 1 }, message);
  io.stderr.write(`botflow: warning: ${message}\n`);
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
  if (polling && config.brokerUrl !== undefined)
    throw new BotflowError(
      'BAD_REQUEST',
      '--polling runs one process and broker mode runs many hosts: unset BOTFLOW_BROKER_URL to poll',
    );
  const host = env['HOST'] ?? '127.0.0.1';
  await checkPortFree(config.port, host);
  // Listening from the start: a signal while starting stops botflow as soon as it is up.
  const stop = stopped();
  if (config.workers > 1 && !polling) {
    // Production: a primary that routes and supervises, workers that share the HTTP port.
    const primary = await startPrimary({ workers: config.workers, env });
    await primary.settled();
    io.stderr.write(`botflow listening on port ${config.port} with ${config.workers} workers\n`);
    await stop;
    io.stderr.write('botflow draining...\n');
    await primary.stop();
    io.stderr.write('botflow stopped\n');
    return 0;
  }
  // Broker mode on one worker: this process is one of the hosts sharing the shards through RabbitMQ.
  const app =
    config.brokerUrl === undefined
      ? await bootstrap({ env, http: { host }, polling })
      : await startBrokerHost({ env, http: { host } });
  app.logger.info(
    {
      url: app.url,
      embedded: app.db.embedded,
      admin_api: app.config.adminToken !== undefined,
      polling,
      broker: config.brokerUrl !== undefined,
    },
    'botflow started',
  );
  io.stderr.write(
    `botflow listening on ${app.url} (${app.db.embedded ? 'embedded database' : app.db.url})\n`,
  );
  warnSingleProcess(io, app, env, polling);
  if (polling)
    io.stderr.write(
      'polling Telegram for updates (development mode: one process; webhooks of registered bots deleted)\n',
    );
  await stop;
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
  if (!finished)
    io.stderr.write(
      `botflow: stopping took over ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting, the outbox and timers resume on the next start\n`,
    );
  app.logger.info({ clean: finished }, 'botflow stopped');
  io.stderr.write('botflow stopped\n');
  return finished ? 0 : 1;
}
