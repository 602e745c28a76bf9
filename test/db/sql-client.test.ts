/**
 * Prepared statements of a session: one name per client and statement, prepared again once
 * `REPLAN_MS` old, so a generic plan made on small tables does not read them whole after they grew.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { preparedName, REPLAN_MS } from '../../src/db/sql-client.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

describe('preparedName', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  let session: pg.Client;

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    session = new pg.Client({ connectionString: fresh.url });
    await session.connect();
  });
  after(async () => {
    await session.end();
    await db.close();
    await fresh.drop();
  });

  const probe = `select c.row_version from unnest($1::text[], $2::bigint[]) as k(b, u)
    cross join lateral (select c.row_version from conversations c
      where c.bot_id = k.b and c.user_id = k.u limit 1) c`;
  const run = async (name: string) =>
    (await session.query<{ row_version: number }>({ name, text: probe, values: [['sc'], ['7']] })).rows;
  const seqScans = async () =>
    (
      await session.query<{ n: number }>(
        `select seq_scan::int as n from pg_stat_xact_user_tables where relname = 'conversations'`,
      )
    ).rows[0]?.n ?? 0;

  it('keeps a name while it is young, then deallocates it and plans the statement again on the grown tables', async () => {
    const t0 = 1_000_000;
    // A small analyzed table: a seq scan of its one page is the cheapest probe, and the plan keeps it.
    await session.query(
      `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
       select 'sc', g, 'f', 1, '5', '{}', 1, 3 from generate_series(1, 60) g`,
    );
    await session.query('analyze conversations');
    const first = await preparedName(session, 'bf_probe', t0);
    assert.deepEqual(await run(first), [{ row_version: 1 }]);
    await session.query(
      `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
       select 'sc', g, 'f', 1, '5', '{}', 2, 3 from generate_series(61, 20000) g`,
    );

    // The counts are the session's not yet reported to the cumulative statistics (reported between
    // transactions at most once a second): compared around a run, inside one transaction.
    const young = await preparedName(session, 'bf_probe', t0 + REPLAN_MS - 1);
    assert.equal(young, first);
    await session.query('begin');
    let before = await seqScans();
    await run(young);
    const stale = (await seqScans()) - before;
    await session.query('rollback');

    const replanned = await preparedName(session, 'bf_probe', t0 + REPLAN_MS);
    assert.notEqual(replanned, first);
    await session.query('begin');
    before = await seqScans();
    assert.deepEqual(await run(replanned), [{ row_version: 1 }]);
    const fresh = (await seqScans()) - before;
    await session.query('rollback');
    const prepared = (
      await session.query<{ name: string }>(
        `select name from pg_prepared_statements where starts_with(name, 'bf_probe_') order by name`,
      )
    ).rows;

    assert.ok(stale > 0, 'the plan made on the small table reads it whole');
    assert.equal(fresh, 0);
    assert.deepEqual(prepared, [{ name: replanned }]);
    // node-postgres forgets the deallocated name (its record of parsed names would grow by one per replan).
    const parsed = (session as unknown as { connection: { parsedStatements: Record<string, string> } })
      .connection.parsedStatements;
    assert.deepEqual(
      Object.keys(parsed).filter((name) => name.startsWith('bf_probe_')),
      [replanned],
    );
  });

  it("deallocates a replanned name's variants with it (`<name>_<key>`), and no other name", async () => {
    const t0 = 5_000_000;
    const first = await preparedName(session, 'bf_variants', t0);
    const other = `${first}9`;
    for (const name of [`${first}_01`, `${first}_11`, other]) await run(name);
    const replanned = await preparedName(session, 'bf_variants', t0 + REPLAN_MS);
    await run(`${replanned}_01`);
    const prepared = (
      await session.query<{ name: string }>(
        `select name from pg_prepared_statements where starts_with(name, 'bf_variants_') order by name`,
      )
    ).rows.map((r) => r.name);
    assert.deepEqual(prepared, [other, `${replanned}_01`].sort());
    const parsed = (session as unknown as { connection: { parsedStatements: Record<string, string> } })
      .connection.parsedStatements;
    assert.deepEqual(
      Object.keys(parsed)
        .filter((name) => name.startsWith('bf_variants_'))
        .sort(),
      [other, `${replanned}_01`].sort(),
    );
  });
});
