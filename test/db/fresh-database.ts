/**
 * Test helper: a fresh Postgres database `botflow_test_<random>` on DATABASE_TEST_URL, dropped at
 * the end, so each test file runs isolated against real Postgres.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
