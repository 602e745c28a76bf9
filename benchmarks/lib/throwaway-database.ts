/** A throwaway Postgres database on DATABASE_TEST_URL's server for one benchmark run, dropped afterwards. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const BASE = process.env['DATABASE_TEST_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A created database: its URL and how to drop it. */
export interface ThrowawayDatabase {
  url: string;
  drop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BASE });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates `botflow_bench_<random>` (empty; bootstrap migrates it). */
export async function createThrowawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `botflow_bench_${randomBytes(4).toString('hex')}`;
  await admin(`create database ${name}`);
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}
