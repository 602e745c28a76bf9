/**
 * Runs raw SQL on the ORM's `pg` pool, turning connection failures into STORE_UNAVAILABLE so every
 * repository reports an unavailable database the same way.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { BotflowError } from '../errors.ts';

/** A query function bound to a database. */
export type Sql = <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => Promise<R[]>;

/** Errors Postgres raises for bad data (constraint violations) rather than unavailability. */
const DATA_ERRORS = new Set(['23505', '23503', '23502', '23514', '22P02']);

/** What already exists, from Postgres' detail `Key (username)=(x) already exists.` (keys hold no secrets). */
function describeConflict(error: unknown): string {
  const { table, detail } = error as { table?: string; detail?: string };
  const key = /^Key \((.+)\)=\((.*)\) already exists/.exec(detail ?? '');
  if (key === null) return `${table ?? 'a row'}: already exists`;
  return `${table ?? 'a row'} with ${key[1]} ${key[2]} already exists`;
}

/** A driver error as a coded one: CONFLICT, BAD_REQUEST for refused data, else STORE_UNAVAILABLE. */
export function toStoreError(error: unknown): BotflowError {
  if (error instanceof BotflowError) return error;
  const code = (error as { code?: string }).code;
  if (code === '23505') return new BotflowError('CONFLICT', describeConflict(error), { cause: error });
  if (code !== undefined && DATA_ERRORS.has(code)) {
    return new BotflowError('BAD_REQUEST', 'the database refused the data', { cause: error });
  }
  return new BotflowError('STORE_UNAVAILABLE', 'the database did not answer', { cause: error });
}

/** Creates a query function over `orm`'s pool. Unique violations become CONFLICT. */
export function createSql(orm: MikroORM): Sql {
  return async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => {
    try {
      const pool = await orm.em.getConnection().getNativeClient();
      return (await pool.query<R>(text, params)).rows;
    } catch (error) {
      throw toStoreError(error);
    }
  };
}

/** Runs `fn` in one transaction on one pooled connection (rolled back if it throws). */
export async function withTransaction<T>(orm: MikroORM, fn: (sql: Sql) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await (await orm.em.getConnection().getNativeClient()).connect();
  } catch (error) {
    throw toStoreError(error);
  }
  const sql: Sql = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => {
    try {
      return (await client.query<R>(text, params)).rows;
    } catch (error) {
      throw toStoreError(error);
    }
  };
  try {
    await sql('begin');
    const result = await fn(sql);
    await sql('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * How long a session runs a statement on one generic plan before preparing it again. The plan is
 * costed on the tables' sizes when it is made: made while they were small it reads them whole (a seq
 * scan is cheapest on a few pages, even for a key probe), and Postgres replans only when the tables
 * are analyzed; a statement prepared again is planned on their current sizes.
 */
export const REPLAN_MS = 60_000;

/** Per pooled client: its number and the name and age of each statement it has readied. */
const sessions = new WeakMap<object, { id: number; bases: Map<string, { name: string; at: number }> }>();
let nextClientId = 1;
let nextPlan = 1;

/**
 * The name under which `client` runs the prepared statement `base`, readying the session on first
 * use: the client's own number makes the name new to the session, earlier connections' copies are
 * deallocated (the embedded PGlite socket server keeps one session for every connection, so they
 * would pile up), and `plan_cache_mode` is set to reuse the generic plan (by default Postgres
 * re-plans a statement over `unnest` arrays on every execution, which costs more than running it).
 * Once `REPLAN_MS` old at `now`, the statement is deallocated and named anew, so it is planned again;
 * so are its variants, the statements named `<name>_<anything>` (the group commit's, one per set of
 * parts a batch has).
 */
export async function preparedName(client: pg.ClientBase, base: string, now = Date.now()): Promise<string> {
  let session = sessions.get(client);
  if (session === undefined) {
    session = { id: nextClientId++, bases: new Map() };
    sessions.set(client, session);
  }
  const kept = session.bases.get(base);
  if (kept !== undefined && now - kept.at < REPLAN_MS) return kept.name;
  if (kept !== undefined) {
    const { rows } = await client.query<{ name: string }>(
      `select name from pg_prepared_statements where name = $1 or starts_with(name, $1 || '_')`,
      [kept.name],
    );
    await deallocate(client, rows);
  } else {
    const results = (await client.query(
      `set plan_cache_mode = force_generic_plan;
       select name from pg_prepared_statements where starts_with(name, '${base}_')`,
    )) as unknown as Array<pg.QueryResult<{ name: string }>>;
    await deallocate(client, results[1]?.rows ?? []);
  }
  const name = `${base}_${session.id}_${nextPlan++}`;
  session.bases.set(base, { name, at: now });
  return name;
}

/** Deallocates the named statements in one round trip, and forgets them in node-postgres. */
async function deallocate(client: pg.ClientBase, statements: ReadonlyArray<{ name: string }>): Promise<void> {
  if (statements.length === 0) return;
  await client.query(statements.map(({ name }) => `deallocate "${name.replaceAll('"', '""')}"`).join('; '));
  for (const { name } of statements) forgetParsed(client, name);
}

/**
 * Drops a deallocated statement from node-postgres's record of the names it parsed on the connection
 * (`connection.parsedStatements`, not public API): else it keeps one name per replan for the
 * connection's whole life.
 */
function forgetParsed(client: pg.ClientBase, name: string): void {
  const connection = (client as unknown as { connection?: { parsedStatements?: Record<string, unknown> } })
    .connection;
  if (connection?.parsedStatements !== undefined) delete connection.parsedStatements[name];
}

/** Runs `text` as the prepared statement `base` (letters, digits, `_`) on a client of `pool`. */
export async function queryPrepared<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  base: string,
  text: string,
  values: unknown[],
): Promise<R[]> {
  const client = await pool.connect();
  try {
    return (await client.query<R>({ name: await preparedName(client, base), text, values })).rows;
  } finally {
    client.release();
  }
}
