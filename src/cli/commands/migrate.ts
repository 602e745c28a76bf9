/** `botflow migrate`: applies pending database migrations (they also run on start). */
import { loadConfig } from '../../config.ts';
import { openDatabase } from '../../db/open-database.ts';
import type { CliIo } from '../io.ts';

/** Opens the configured database (DATABASE_URL, or the embedded one) and migrates it. */
export async function runMigrate(io: CliIo, env: Record<string, string | undefined>): Promise<number> {
  const config = loadConfig(env);
  const db = await openDatabase({
    ...(config.databaseUrl === undefined ? {} : { url: config.databaseUrl }),
    dataDir: config.dataDir,
  });
  await db.close();
  io.stdout.write(`migrated ${db.embedded ? `embedded database in ${config.dataDir}` : db.url}\n`);
  return 0;
}
