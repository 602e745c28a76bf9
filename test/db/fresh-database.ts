/**
 * Test helper: a fresh Postgres database `botflow_test_<random>` on DATABASE_TEST_URL, dropped at
 * the end, so each test file runs isolated against real Postgres.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createSql, type Sql } from '../../src/db/sql-client.ts';

/** A created database: its URL and a function that drops it. */
export interface FreshDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

const BASE_URL = process.env['DATABASE_TEST_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates an empty database with a random name. */
export async function createFreshDatabase(): Promise<FreshDatabase> {
  const name = `botflow_test_${randomBytes(6).toString('hex')}`;
  await admin(`create database "${name}"`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin(`drop database if exists "${name}" with (force)`),
  };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A migrated fresh database for one test file: opened before its tests, closed and dropped after. */
export function useMigratedDatabase(): {
  readonly db: DatabaseHandle;
  readonly sql: Sql;
  /** Its URL, for a client of the test's own. */
  readonly url: string;
} {
  let fresh: FreshDatabase | undefined;
  let handles: { db: DatabaseHandle; sql: Sql } | undefined;
  before(async () => {
    fresh = await createFreshDatabase();
    const db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    handles = { db, sql: createSql(db.orm) };
  });
  after(async () => {
    await handles?.db.close();
    await fresh?.drop();
  });
  const opened = () => {
    if (handles === undefined) throw new Error('the database opens in before()');
    return handles;
  };
  return {
    get db() {
      return opened().db;
    },
    get sql() {
      return opened().sql;
    },
    get url() {
      opened();
      return fresh!.url;
    },
  };
}
