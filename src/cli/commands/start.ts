/**
 * `botflow start`: runs botflow until SIGINT/SIGTERM, then drains mailboxes, commits and effects
 * before exiting. With no DATABASE_URL it runs on the embedded database in BOTFLOW_DATA_DIR.
 */
import { bootstrap } from '../../bootstrap.ts';
import type { CliIo } from '../io.ts';

/** Starts, prints where it listens, and resolves with the exit code once stopped by a signal. */
export async function runStart(io: CliIo, env: Record<string, string | undefined>): Promise<number> {
  const app = await bootstrap({ env, http: { host: env['HOST'] ?? '127.0.0.1' } });
  app.logger.info(
    { url: app.url, embedded: app.db.embedded, admin_api: app.config.adminToken !== undefined },
    'botflow started',
  );
  io.stderr.write(
    `botflow listening on ${app.url} (${app.db.embedded ? 'embedded database' : app.db.url})\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  io.stderr.write('botflow draining...\n');
  await app.close();
  return 0;
}
