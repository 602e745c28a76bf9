/**
 * The one-statement group commit on its own: how the statement numbers and binds each record writer's
 * arrays, and what one batch writes against real Postgres (a conversation repeated in a batch, an
 * unnamed statement, done-marks riding a refused batch, records only with committed rows).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { buildCommitStatement, writeCommitBatch } from '../../src/db/write-commit-batch.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import type { RecordWriter } from '../../src/runtime/ports.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';
import { createCommitRows } from '../support/commit-row.ts';

/** A writer of `kind` with `columns`, inserting its tuples into `commit_notes`. */
function notesWriter(kind: string, columns: RecordWriter['columns']): RecordWriter {
  return {
    kind,
    columns,
    tuples: (_row, records) => records.map((r) => columns.map(([name]) => r[name])),
    statement: (source) =>
      `insert into commit_notes (bot_id, user_id, kind, note)
       select bot_id, user_id, '${kind}', ${columns[0]![0]}::text from ${source} as x`,
  };
}

const NOTE = notesWriter('note', [['note', 'text']]);
const PAIR = notesWriter('pair', [
  ['left', 'text'],
  ['right', 'int'],
]);

const row = createCommitRows('wcb', 10_000);

/** The session transaction's reads of `relname` so far: sequential scans and index tuples fetched. */
async function scansOf(
  session: pg.Client,
  relname: string,
): Promise<{ seq_scan: number; idx_tup_fetch: number }> {
  const { rows } = await session.query<{ seq_scan: number; idx_tup_fetch: number }>(
    `select seq_scan::int, idx_tup_fetch::int from pg_stat_xact_user_tables where relname = $1`,
    [relname],
  );
  return rows[0]!;
}

describe('buildCommitStatement', () => {
  it('refuses two writers of one kind as CONFIG_INVALID', () => {
    assert.throws(() => buildCommitStatement([NOTE, notesWriter('note', [['x', 'text']])]), {
      code: 'CONFIG_INVALID',
    });
  });

  it("numbers each writer's arrays after the fixed 22 and binds each its own kind's tuples, by row index", () => {
    const statement = buildCommitStatement([NOTE, PAIR]);
    assert.match(
      statement.text,
      /record_0 as \(insert into commit_notes[\s\S]*unnest\(\$23::int\[\], \$24::text\[\]\)/,
    );
    assert.match(
      statement.text,
      /record_1 as \(insert into commit_notes[\s\S]*unnest\(\$25::int\[\], \$26::text\[\], \$27::int\[\]\)/,
    );
    const a = row({
      records: [
        { kind: 'note', note: 'n1' },
        { kind: 'pair', left: 'l1', right: 1 },
      ],
    });
    const b = row({
      records: [
        { kind: 'note', note: 'n2' },
        { kind: 'note', note: 'n3' },
      ],
      timersCancelled: ['t-restarted', 't-cancelled', 't-cancelled'],
      timersStarted: [{ timerId: 't-restarted', dueAt: 0, event: { type: 'x' } }],
    });
    const params = statement.bind(
      [
        { i: 0, row: a },
        { i: 4, row: b },
      ],
      '5',
      ['done-1'],
    );
    assert.equal(params.length, 27);
    assert.deepEqual(params.slice(15, 17), [[4], ['t-cancelled']], 'a restarted timer is not cancelled');
    assert.deepEqual(params[21], ['done-1']);
    assert.deepEqual(params.slice(22), [[0, 4, 4], ['n1', 'n2', 'n3'], [0], ['l1'], [1]]);
  });

  it('leaves the parts a batch has nothing for out of its variant, with their parameters, numbering the rest in order', () => {
    const statement = buildCommitStatement([NOTE, PAIR]);
    const bare = statement.variant(statement.bind([{ i: 0, row: row() }], '5', []));
    assert.equal(bare.key, '000000');
    assert.equal(bare.values.length, 11, 'the XState version and the rows arrays only');
    for (const part of ['effects_done', 'timers_cancelled', 'timers_started', 'effects_marked', 'record_'])
      assert.ok(!bare.text.includes(`${part}`), `${part} left out`);
    assert.match(bare.text, /inputs_done as/);

    const paired = row({
      effects: [{ key: 'v:e1', effect: {} as never }],
      records: [{ kind: 'pair', left: 'l1', right: 1 }],
    });
    const some = statement.variant(statement.bind([{ i: 0, row: paired }], '5', ['done-1']));
    assert.equal(some.key, '100101');
    assert.match(
      some.text,
      /effects_done as[\s\S]*unnest\(\$12::int\[\], \$13::text\[\], \$14::jsonb\[\], \$15::int\[\]\)/,
    );
    assert.match(some.text, /effects_marked as[\s\S]*\$16/);
    assert.match(some.text, /record_1 as[\s\S]*unnest\(\$17::int\[\], \$18::text\[\], \$19::int\[\]\)/);
    assert.ok(!some.text.includes('record_0') && !some.text.includes('timers_'));
    assert.equal(some.values.length, 19);
    assert.deepEqual(some.values.slice(11, 12), [[0]]);
    assert.deepEqual(some.values.slice(15), [['done-1'], [0], ['l1'], [1]]);

    const full = statement.bind(
      [{ i: 0, row: { ...paired, records: [...paired.records!, { kind: 'note', note: 'n' }] } }],
      '5',
      ['done-1'],
    );
    (full[15] as unknown[]).push(0);
    (full[16] as unknown[]).push('t-1');
    (full[17] as unknown[]).push(0);
    const all = statement.variant(full);
    assert.equal(all.key, '111111');
    assert.equal(all.text, statement.text, 'a batch with every part runs the whole statement');
    assert.deepEqual(all.values, full);
  });
});

describe('writeCommitBatch against Postgres', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  let client: pg.PoolClient;
  const query = async <R>(text: string, params: unknown[] = []) =>
    (await client.query(text, params)).rows as R[];
  const statement = buildCommitStatement([NOTE]);

  /** Runs `use` on a connection of its own that plans every statement generically, as pooled sessions do. */
  async function withGenericPlanSession(use: (session: pg.Client) => Promise<void>): Promise<void> {
    const session = new pg.Client({ connectionString: fresh.url });
    await session.connect();
    try {
      await session.query(`set plan_cache_mode = force_generic_plan`);
      await use(session);
    } finally {
      await session.end();
    }
  }

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    const pool = (await db.orm.em.getConnection().getNativeClient()) as pg.Pool;
    client = await pool.connect();
    await query(`create table commit_notes (bot_id text, user_id bigint, kind text, note text)`);
  });
  after(async () => {
    client.release();
    await db.close();
    await fresh.drop();
  });

  it('commits a conversation once per batch: its repeat is a version conflict and writes nothing', async () => {
    const first = row({
      records: [{ kind: 'note', note: 'first' }],
      effects: [{ key: 'wcb:e1', effect: {} as never }],
    });
    const repeat = {
      ...first,
      records: [{ kind: 'note', note: 'repeat' }],
      effects: [{ key: 'wcb:e2', effect: {} as never }],
    };
    const other = row({ records: [{ kind: 'note', note: 'other' }] });
    assert.deepEqual(await writeCommitBatch(client, statement, [first, repeat, other], '5', null), [
      'ok',
      'version_conflict',
      'ok',
    ]);
    const notes = await query<{ user_id: string; note: string }>(
      `select user_id::text, note from commit_notes order by note`,
    );
    assert.deepEqual(notes, [
      { user_id: first.userId, note: 'first' },
      { user_id: other.userId, note: 'other' },
    ]);
    const effects = await query<{ idempotency_key: string }>(
      `select idempotency_key from effects where idempotency_key like 'wcb:%'`,
    );
    assert.deepEqual(effects, [{ idempotency_key: 'wcb:e1' }]);
  });

  it('runs each variant under its own prepared name: a batch without records or effects, then one with both', async () => {
    const plain = row();
    const full = row({
      records: [{ kind: 'note', note: 'variant' }],
      effects: [{ key: 'wcb:variant', effect: {} as never }],
      timersStarted: [{ timerId: 'vt', dueAt: 1_900_000_000_000, event: { type: 'x' } }],
    });
    assert.deepEqual(await writeCommitBatch(client, statement, [plain], '5', 'bf_variant'), ['ok']);
    assert.deepEqual(await writeCommitBatch(client, statement, [full], '5', 'bf_variant'), ['ok']);
    const names = await query<{ name: string }>(
      `select name from pg_prepared_statements where starts_with(name, 'bf_variant_') order by name`,
    );
    assert.deepEqual(
      names.map((n) => n.name),
      ['bf_variant_00000', 'bf_variant_10101'],
    );
    assert.deepEqual(await query(`select note from commit_notes where note = 'variant'`), [
      { note: 'variant' },
    ]);
    assert.deepEqual(
      await query(`select timer_id from timers where user_id = $1 and status = 'pending'`, [full.userId]),
      [{ timer_id: 'vt' }],
    );
  });

  it('marks effects done in the same statement even when every row of it is refused', async () => {
    await query(
      `insert into effects (bot_id, user_id, idempotency_key, effect) values ('wcb', 1, 'wcb:pending', '{}')`,
    );
    await query(`insert into shard_epochs (shard, epoch, owner) values (4, 2, 'other-worker')`);
    const stale = row({ shard: 4, epoch: 1, records: [{ kind: 'note', note: 'stale' }] });
    assert.deepEqual(
      await writeCommitBatch(client, statement, [stale], '5', 'bf_commit_test', ['wcb:pending']),
      ['stale_epoch'],
    );
    const [effect] = await query<{ status: string }>(
      `select status from effects where idempotency_key = 'wcb:pending'`,
    );
    assert.equal(effect?.status, 'done');
    assert.deepEqual(await query(`select 1 from commit_notes where note = 'stale'`), []);
    assert.deepEqual(await query(`select 1 from conversations where user_id = $1`, [stale.userId]), []);
  });

  it('checks input keys and row versions by primary key, even in a generic plan made while the tables were small', async () => {
    // A pooled connection keeps its plan until the tables are analyzed again: an `exists` planned as a
    // hashed subplan read all of processed_inputs and conversations on every commit from then on.
    await withGenericPlanSession(async (session) => {
      const seen = row({ inputKey: 'wcb:plan:seen' });
      assert.deepEqual(await writeCommitBatch(session, statement, [seen], '5', 'bf_commit_plan'), ['ok']);
      await query(
        `insert into processed_inputs (key) select 'wcb:grown:' || g from generate_series(1, 5000) g`,
      );
      await query(
        `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
         select 'wcb-grown', g, 'f', 1, '5', '{}', 1, 3 from generate_series(1, 2000) g`,
      );
      await session.query('begin');
      const outcomes = await writeCommitBatch(
        session,
        statement,
        [
          row({ inputKey: 'wcb:grown:17' }),
          row({ botId: 'wcb-grown', userId: '18', expectedVersion: 1 }),
          row({ botId: 'wcb-grown', userId: '19', expectedVersion: 0 }),
          row({ inputKey: 'wcb:plan:new' }),
        ],
        '5',
        'bf_commit_plan',
      );
      const scans = (
        await session.query<{ relname: string; seq_scan: string }>(
          `select relname, seq_scan::text from pg_stat_xact_user_tables
           where relname in ('processed_inputs', 'conversations') order by relname`,
        )
      ).rows;
      await session.query('rollback');
      assert.deepEqual(outcomes, ['duplicate_input', 'ok', 'version_conflict', 'ok']);
      assert.deepEqual(scans, [
        { relname: 'conversations', seq_scan: '0' },
        { relname: 'processed_inputs', seq_scan: '0' },
      ]);
    });
  });

  it('cancels a pending timer by probing its key, even in a generic plan made while timers was small', async () => {
    // An update ... from planned on a small table walked every pending timer for each cancel.
    await withGenericPlanSession(async (session) => {
      const started = row({
        botId: 'wcb-timers',
        timersStarted: [{ timerId: 't', dueAt: Date.UTC(2030, 0, 1), event: { type: 'tick' } }],
        timersCancelled: ['none'],
      });
      assert.deepEqual(await writeCommitBatch(session, statement, [started], '5', 'bf_commit_timers'), [
        'ok',
      ]);
      await query(
        `insert into timers (bot_id, user_id, shard, timer_id, due_at, event, status)
         select 'wcb-timers', g, 3, 't', now(), '{}', case when g = 18 then 'fired' else 'pending' end
         from generate_series(1, 3000) g`,
      );
      await session.query('begin');
      const outcomes = await writeCommitBatch(
        session,
        statement,
        [
          row({ botId: 'wcb-timers', userId: '17', timersCancelled: ['t'] }),
          row({ botId: 'wcb-timers', userId: '18', timersCancelled: ['t'] }),
          row({ botId: 'wcb-timers', userId: '19', timersCancelled: ['other'] }),
          row({ botId: 'wcb-timers', userId: started.userId, expectedVersion: 1, timersCancelled: ['t'] }),
        ],
        '5',
        'bf_commit_timers',
      );
      const scans = await scansOf(session, 'timers');
      const timers = (
        await session.query<{ user_id: string; timer_id: string; status: string }>(
          `select user_id::text, timer_id, status from timers
           where bot_id = 'wcb-timers' and user_id in (17, 18, 19, $1) order by timers.user_id, timer_id`,
          [started.userId],
        )
      ).rows;
      const [count] = (
        await session.query<{ n: number; max_id: number }>(
          `select count(*)::int as n, max(id)::int as max_id from timers where bot_id = 'wcb-timers'`,
        )
      ).rows;
      await session.query('rollback');
      assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ok']);
      assert.deepEqual(timers, [
        { user_id: '17', timer_id: 't', status: 'cancelled' },
        { user_id: '18', timer_id: 't', status: 'fired' },
        { user_id: '19', timer_id: 't', status: 'pending' },
        { user_id: started.userId, timer_id: 't', status: 'cancelled' },
      ]);
      // Nothing inserted, and no id taken from the sequence.
      assert.equal(count?.n, 3001);
      assert.equal(
        count?.max_id,
        (await query<{ id: number }>(`select max(id)::int as id from timers`))[0]?.id,
      );
      assert.equal(scans.seq_scan, 0);
      assert.ok(scans.idx_tup_fetch <= 12, `index tuples fetched: ${scans.idx_tup_fetch}`);
    });
  });

  it('marks effects done by probing their keys, even in a generic plan made while effects was small', async () => {
    // An update ... where idempotency_key = any($keys) planned before effects had statistics read the
    // whole table for every commit carrying done-marks, a quarter of Postgres's CPU in the benchmark.
    await withGenericPlanSession(async (session) => {
      await query(
        `insert into effects (bot_id, user_id, idempotency_key, effect, status, last_error)
         values ('wcb-marks', 1, 'wcb:mark:0', '{}', 'pending', 'was failing')`,
      );
      assert.deepEqual(
        await writeCommitBatch(session, statement, [row()], '5', 'bf_commit_marks', ['wcb:mark:0']),
        ['ok'],
      );
      await query(
        `insert into effects (bot_id, user_id, idempotency_key, effect)
         select 'wcb-marks', g, 'wcb:mark:' || g, '{"type":"send"}' from generate_series(1, 4000) g`,
      );
      const [{ n: before } = { n: 0 }] = await query<{ n: number }>(`select count(*)::int as n from effects`);
      await session.query('begin');
      const outcomes = await writeCommitBatch(session, statement, [row()], '5', 'bf_commit_marks', [
        'wcb:mark:17',
        'wcb:mark:18',
        'wcb:mark:17',
        'wcb:mark:no-such-key',
      ]);
      const scans = await scansOf(session, 'effects');
      const marked = (
        await session.query<{ idempotency_key: string; status: string; last_error: string | null }>(
          `select idempotency_key, status, last_error from effects
           where idempotency_key in ('wcb:mark:0', 'wcb:mark:16', 'wcb:mark:17', 'wcb:mark:18')
           order by idempotency_key`,
        )
      ).rows;
      const [{ n: after } = { n: 0 }] = (
        await session.query<{ n: number }>(`select count(*)::int as n from effects`)
      ).rows;
      await session.query('rollback');
      assert.deepEqual(outcomes, ['ok']);
      assert.deepEqual(marked, [
        { idempotency_key: 'wcb:mark:0', status: 'done', last_error: null },
        { idempotency_key: 'wcb:mark:16', status: 'pending', last_error: null },
        { idempotency_key: 'wcb:mark:17', status: 'done', last_error: null },
        { idempotency_key: 'wcb:mark:18', status: 'done', last_error: null },
      ]);
      assert.equal(after, before, 'a done-mark never inserts');
      assert.equal(scans.seq_scan, 0);
      assert.ok(scans.idx_tup_fetch <= 12, `index tuples fetched: ${scans.idx_tup_fetch}`);
    });
  });
});
