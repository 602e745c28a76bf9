/**
 * Preloaded into botflow's processes by the webhook benchmark (`--import`): counts the SQL statements
 * each process sends (every `pg` `Client.query`, which pools and ORMs go through; both copies of `pg`,
 * the project's and MikroORM's own) and writes the count to `$BENCH_SQL_DIR/<pid>` every 100 ms, for
 * when `pg_stat_statements` is not loaded.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const dir = process.env['BENCH_SQL_DIR'];
if (dir !== undefined && dir !== '') {
  let statements = 0;
  const require = createRequire(import.meta.url);
  const copies = new Set([require.resolve('pg')]);
  try {
    copies.add(createRequire(import.meta.resolve('@mikro-orm/postgresql')).resolve('pg'));
  } catch {
    // MikroORM shares the project's copy.
  }
  for (const path of copies) {
    const proto = (require(path) as { Client: { prototype: { query: (...a: unknown[]) => unknown } } }).Client
      .prototype;
    const query = proto.query;
    proto.query = function countedQuery(this: unknown, ...args: unknown[]) {
      statements += 1;
      return query.apply(this, args);
    };
  }
  const file = join(dir, String(process.pid));
  setInterval(() => writeFileSync(file, String(statements)), 100).unref();
}
