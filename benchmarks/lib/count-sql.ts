/**
 * Preloaded into botflow's processes by the webhook benchmark (`--import`): counts the SQL statements
 * each process sends (every `pg` `Client.query`, which pools and ORMs go through; both copies of `pg`,
 * the project's and MikroORM's own), in total and by the statement's first 60 characters (its call
 * site, near enough), and its transactions (a statement outside `begin` ... `commit` is one, a `begin`
 * opens one: counted here, since Postgres's own counters reach `pg_stat_database` only when a backend
 * flushes them, up to 10 s after it went idle), and writes them as JSON to `$BENCH_SQL_DIR/<pid>` every 500 ms (a synchronous
 * write and rename in the measured process, so not more often; the bench waits 1.1 s before reading),
 * for when `pg_stat_statements` is not loaded.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** What each process writes: its statements so far, in total and by the head of their text, and its transactions. */
export interface SqlCount {
  total: number;
  byText: Record<string, number>;
  /** Statements sent outside an explicit transaction (each its own), and each `begin`. */
  transactions: number;
}

/** A statement's text (a prepared one's name when it has no text). */
function textOf(first: unknown): string {
  const config = first as { text?: string; name?: string } | null;
  return typeof first === 'string' ? first : (config?.text ?? config?.name ?? '');
}

/** The first 60 characters of a statement, whitespace collapsed (a prepared one's name when it has no text). */
export function statementHead(first: unknown): string {
  const text = textOf(first);
  // Only the first 60 characters count: collapse the start of the text, not a commit's whole statement.
  return text.slice(0, 240).replace(/\s+/g, ' ').trim().slice(0, 60);
}

const dir = process.env['BENCH_SQL_DIR'];
if (dir !== undefined && dir !== '') {
  const count: SqlCount = { total: 0, byText: {}, transactions: 0 };
  /** Clients inside an explicit transaction (after `begin`, until `commit` or `rollback`). */
  const inTransaction = new WeakSet<object>();
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
    proto.query = function countedQuery(this: object, ...args: unknown[]) {
      count.total += 1;
      const start = textOf(args[0]).trimStart().slice(0, 20).toLowerCase();
      if (/^(begin|start transaction)\b/.test(start)) {
        inTransaction.add(this);
        count.transactions += 1;
      } else if (/^(commit|rollback|end|abort)\b/.test(start)) {
        inTransaction.delete(this);
      } else if (!inTransaction.has(this)) {
        count.transactions += 1;
      }
      const head = statementHead(args[0]);
      count.byText[head] = (count.byText[head] ?? 0) + 1;
      return query.apply(this, args);
    };
  }
  const file = join(dir, String(process.pid));
  // Written whole and renamed into place, so a reader never sees a half-written count.
  setInterval(() => {
    writeFileSync(`${file}.tmp`, JSON.stringify(count));
    renameSync(`${file}.tmp`, file);
  }, 500).unref();
}
