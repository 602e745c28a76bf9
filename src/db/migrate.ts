/**
 * Applies botflow's pending MikroORM migrations. Idempotent: applied migrations are recorded in
 * `mikro_orm_migrations` and skipped; concurrent starters serialize on a Postgres advisory lock.
 */
import type { MikroORM } from '@mikro-orm/postgresql';

/** Advisory lock key under which migrations run (any constant shared by every botflow process). */
const MIGRATION_LOCK_KEY = 7_242_001;

/**
 * Runs pending migrations and returns the names applied (empty when up to date). `lock` takes a
 * session advisory lock on a dedicated pooled connection first, so two processes never migrate at
 * once; pass false when the pool has a single connection (embedded mode, one process).
 */
export async function migrateDatabase(orm: MikroORM, options: { lock?: boolean } = {}): Promise<string[]> {
  if (options.lock === false) return applyPending(orm);
  const pool = await orm.em.getConnection().getNativeClient();
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await applyPending(orm);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function applyPending(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
