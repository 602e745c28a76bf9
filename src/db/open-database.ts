/**
 * Opens botflow's system of record: real Postgres when a URL is given, otherwise an embedded PGlite
 * database served over the Postgres wire protocol on loopback, so both run the same `pg`/MikroORM
 * code. Migrations run on open; an unreachable database is a STORE_UNAVAILABLE error.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { redactUrl } from '../observability/redact-url.ts';
import { BotflowError } from '../errors.ts';
import { ENTITIES } from './entities/index.ts';
import { migrateDatabase } from './migrate.ts';
import { MIGRATIONS } from './migrations/index.ts';

/** An open database. `url` is redacted (no password): use `orm` for connections. */
export interface DatabaseHandle {
  orm: MikroORM;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

/** Where and how to open the database. `schema` puts every table in that Postgres schema. */
export interface OpenDatabaseOptions {
  url?: string;
  dataDir: string;
  schema?: string;
  debug?: boolean;
  /** Run pending migrations on open (default true). */
  migrate?: boolean;
}

/** Connections the embedded socket server accepts (the ORM uses one; the rest are for tools like psql). */
const EMBEDDED_MAX_CONNECTIONS = 4;

/** Opens Postgres (or embedded PGlite when `url` is absent), migrates it, and returns a handle. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.url !== undefined && options.url !== '') {
    const orm = await connect(options.url, options, { embedded: false });
    return { orm, url: redactUrl(options.url), embedded: false, close: () => orm.close() };
  }
  const dataDir = join(options.dataDir, 'pglite');
  await mkdir(dataDir, { recursive: true });
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await PGlite.create(dataDir);
    server = new PGLiteSocketServer({
      db,
      host: '127.0.0.1',
      port: 0,
      maxConnections: EMBEDDED_MAX_CONNECTIONS,
    });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    const orm = await connect(url, options, { embedded: true });
    const [openDb, openServer] = [db, server];
    return {
      orm,
      url,
      embedded: true,
      async close() {
        await orm.close();
        await openServer.stop();
        await openDb.close();
      },
    };
  } catch (error) {
    await server?.stop().catch(() => {});
    await db?.close().catch(() => {});
    if (error instanceof BotflowError) throw error;
    throw new BotflowError('STORE_UNAVAILABLE', `the embedded database in ${dataDir} could not start`, {
      cause: error,
    });
  }
}

async function connect(
  url: string,
  options: OpenDatabaseOptions,
  mode: { embedded: boolean },
): Promise<MikroORM> {
  const parsed = parseUrl(url);
  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init({
      entities: ENTITIES,
      clientUrl: parsed.toString(),
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      debug: options.debug ?? false,
      extensions: [Migrator],
      // PGlite is one backend session: a single pooled connection keeps each transaction's
      // statements together on the socket server.
      pool: mode.embedded ? { min: 0, max: 1 } : {},
      driverOptions: { ...searchPathOption(options.schema), ...sslOption(parsed) },
      migrations: {
        migrationsList: MIGRATIONS,
        snapshot: false,
        snapshotOnMigrate: false,
        silent: true,
        ...(options.schema === undefined ? {} : { schema: options.schema }),
      },
    });
    await orm.em.getConnection().execute('select 1');
    if (options.schema !== undefined) {
      await orm.em.getConnection().execute(`create schema if not exists ${quoteIdent(options.schema)}`);
    }
    if (options.migrate !== false) await migrateDatabase(orm, { lock: !mode.embedded });
    return orm;
  } catch (error) {
    await orm?.close().catch(() => {});
    throw new BotflowError('STORE_UNAVAILABLE', `Postgres at ${redactUrl(url)} did not answer or migrate`, {
      cause: scrub(error, parsed.password),
    });
  }
}

function parseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BotflowError('CONFIG_INVALID', 'the database URL is not a valid URL');
  }
  if (parsed.port === '') parsed.port = '5432';
  return parsed;
}

/** Sets `search_path` at connection start, so raw SQL with unqualified names uses the schema. */
function searchPathOption(schema: string | undefined): Record<string, unknown> {
  return schema === undefined ? {} : { options: `-c search_path=${quoteIdent(schema)}` };
}

/**
 * MikroORM reads host, port, user, password and database from the URL but not `sslmode`; map it to
 * the `pg` ssl option (`require`: encrypted; `verify-ca`/`verify-full`: certificate checked too).
 */
function sslOption(url: URL): Record<string, unknown> {
  const mode = url.searchParams.get('sslmode');
  if (mode === null || mode === 'disable' || mode === 'allow' || mode === 'prefer') return {};
  return { ssl: { rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full' } };
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Copies an error with any occurrence of the password removed from its message. */
function scrub(error: unknown, password: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  const secret = password === '' ? '' : decodeURIComponent(password);
  const scrubbed = new Error(secret === '' ? message : message.replaceAll(secret, '***'));
  if (error instanceof Error && 'code' in error) Object.assign(scrubbed, { code: error.code });
  return scrubbed;
}
