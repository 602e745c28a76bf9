import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createConversationStore, type PostgresConversationStore } from '../../src/db/conversation-store.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { BotflowError } from '../../src/errors.ts';
import type { PersistedConversation } from '../../src/flow/advance-conversation.ts';
import type { CommitRecord, CommitRow, RecordWriter } from '../../src/runtime/ports.ts';
import { PAYMENT_RECORD_WRITERS } from '../../src/payments/payment-record-writers.ts';
import { TRACKING_RECORD_WRITERS } from '../../src/tracking/tracking-record-writers.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';
import { claimShard } from '../support/claim-shard.ts';
import { waitFor } from '../support/wait-for.ts';
import pg from 'pg';

const recordWriters = [...PAYMENT_RECORD_WRITERS, ...TRACKING_RECORD_WRITERS];

let fresh: FreshDatabase;
let db: DatabaseHandle;
let store: PostgresConversationStore;
let nextUser = 1000;

before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  store = createConversationStore(db.orm, { recordWriters });
});

after(async () => {
  await db?.close();
  await fresh?.drop();
});

async function sql<R = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
  const pool = await db.orm.em.getConnection().getNativeClient();
  return (await pool.query(text, params)).rows as R[];
}

function snapshot(step: string): PersistedConversation {
  return { status: 'active', value: step, context: { note: `at "${step}" \\ ok` } as never };
}

function row(overrides: Partial<CommitRow> = {}): CommitRow {
  const userId = String(nextUser++);
  return {
    botId: 'bot1',
    userId,
    shard: 7,
    epoch: 0,
    expectedVersion: 0,
    flowId: 'flow1',
    flowVersion: 1,
    snapshot: snapshot('welcome'),
    effects: [],
    timersStarted: [],
    timersCancelled: [],
    inputKey: null,
    ...overrides,
  };
}

const sendEffect = { type: 'send', step: 'welcome', message: { text: 'hi' } } as never;

describe('commitBatch', () => {
  beforeEach(async () => {
    await sql('delete from shard_epochs');
  });

  it('creates a conversation and loads it back with its version and pending timers', async () => {
    const r = row({
      effects: [{ key: 'k-create', effect: sendEffect }],
      timersStarted: [{ timerId: 't1', dueAt: 1_800_000_000_123, event: { type: 'timer.t1' } }],
      inputKey: 'update:1',
    });
    assert.deepEqual(await store.commitBatch([r]), ['ok']);
    const loaded = await store.load('bot1', r.userId);
    assert.deepEqual(loaded, {
      botId: 'bot1',
      userId: r.userId,
      flowId: 'flow1',
      flowVersion: 1,
      snapshot: snapshot('welcome'),
      rowVersion: 1,
      timers: { t1: 1_800_000_000_123 },
    });
    assert.equal(await store.load('bot1', '999999999'), null);

    const next = {
      ...r,
      expectedVersion: 1,
      snapshot: snapshot('offer'),
      inputKey: 'update:2',
      timersStarted: [],
    };
    assert.deepEqual(await store.commitBatch([next]), ['ok']);
    const reloaded = await store.load('bot1', r.userId);
    assert.equal(reloaded?.rowVersion, 2);
    assert.deepEqual(reloaded?.snapshot, snapshot('offer'));
  });

  it('refuses a version conflict and a stale epoch while the rest of the batch commits', async () => {
    const epoch = await claimShard(store, 7, 'worker-a');
    const existing = row({ epoch });
    assert.deepEqual(await store.commitBatch([existing]), ['ok']);

    const good = row({ epoch, inputKey: 'in:good', effects: [{ key: 'e:good', effect: sendEffect }] });
    const conflicting = {
      ...existing,
      expectedVersion: 5,
      inputKey: 'in:conflict',
      effects: [{ key: 'e:conflict', effect: sendEffect }],
      timersStarted: [{ timerId: 'x', dueAt: 1, event: { type: 'x' } }],
    };
    const alsoNew = row({ epoch, expectedVersion: 0, userId: existing.userId, botId: 'bot2' });
    const createdTwice = { ...existing, expectedVersion: 0, inputKey: 'in:twice' };
    const stale = row({
      epoch: epoch - 1,
      inputKey: 'in:stale',
      effects: [{ key: 'e:stale', effect: sendEffect }],
    });
    const outcomes = await store.commitBatch([good, conflicting, stale, createdTwice, alsoNew]);
    assert.deepEqual(outcomes, ['ok', 'version_conflict', 'stale_epoch', 'version_conflict', 'ok']);

    assert.equal((await store.load('bot1', good.userId))?.rowVersion, 1);
    assert.equal(await store.load('bot1', stale.userId), null);
    assert.equal(
      (await store.load('bot1', existing.userId))?.rowVersion,
      1,
      'the conflicting row wrote nothing',
    );
    assert.deepEqual((await store.load('bot1', existing.userId))?.timers, {});
    const effects = await sql<{ idempotency_key: string }>(
      `select idempotency_key from effects where idempotency_key like 'e:%' order by 1`,
    );
    assert.deepEqual(
      effects.map((e) => e.idempotency_key),
      ['e:good'],
    );
    const keys = await sql<{ key: string }>(
      `select key from processed_inputs where key like 'in:%' order by 1`,
    );
    assert.deepEqual(
      keys.map((k) => k.key),
      ['in:good'],
    );
  });

  it('fences a previous owner once the shard is claimed again', async () => {
    const first = await claimShard(store, 9, 'worker-a');
    const second = await claimShard(store, 9, 'worker-b');
    assert.equal(second, first + 1);
    assert.deepEqual(await store.commitBatch([row({ shard: 9, epoch: first })]), ['stale_epoch']);
    assert.deepEqual(await store.commitBatch([row({ shard: 9, epoch: second })]), ['ok']);
    const [owner] = await sql<{ owner: string }>('select owner from shard_epochs where shard = 9');
    assert.equal(owner?.owner, 'worker-b');
  });

  it('refuses a commit that waited on a claim still in flight, once the claim commits', async () => {
    const epoch = await claimShard(store, 10, 'worker-a');
    const pool = (await db.orm.em.getConnection().getNativeClient()) as pg.Pool;
    const claimer = await pool.connect();
    try {
      await claimer.query('begin');
      await claimer.query(`update shard_epochs set epoch = epoch + 1, owner = 'worker-b' where shard = 10`);
      const waiting = store.commitBatch([row({ shard: 10, epoch })]);
      // The commit blocks on the epoch row until the claim ends; then it reads the claim's epoch.
      await waitFor('the commit to wait on the epoch row', async () => {
        const [blocked] = await sql<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock' and query like 'with%'`,
        );
        return (blocked?.n ?? 0) > 0;
      });
      await claimer.query('commit');
      assert.deepEqual(await waiting, ['stale_epoch']);
    } finally {
      claimer.release();
    }
  });

  it('applies an input key once: a repeat is a duplicate and writes nothing', async () => {
    const r = row({ inputKey: 'update:dup', effects: [{ key: 'e:dup:1', effect: sendEffect }] });
    assert.deepEqual(await store.commitBatch([r]), ['ok']);
    const again = {
      ...r,
      expectedVersion: 1,
      snapshot: snapshot('later'),
      effects: [{ key: 'e:dup:2', effect: sendEffect }],
    };
    const otherSameKey = row({ inputKey: 'update:same' });
    const sameKeyLater = row({ inputKey: 'update:same' });
    assert.deepEqual(await store.commitBatch([again, otherSameKey, sameKeyLater]), [
      'duplicate_input',
      'ok',
      'duplicate_input',
    ]);
    assert.deepEqual((await store.load('bot1', r.userId))?.snapshot, snapshot('welcome'));
    assert.equal((await sql(`select 1 from effects where idempotency_key = 'e:dup:2'`)).length, 0);
    assert.equal(await store.load('bot1', sameKeyLater.userId), null);
  });

  it('inserts an effect once even when committed again under the same idempotency key', async () => {
    const r = row({ effects: [{ key: 'e:once', effect: sendEffect }] });
    const s = row({ effects: [{ key: 'e:once', effect: { type: 'other' } as never }] });
    assert.deepEqual(await store.commitBatch([r, s]), ['ok', 'ok']);
    const rows = await sql<{ effect: unknown; status: string; attempts: number }>(
      `select effect, status, attempts from effects where idempotency_key = 'e:once'`,
    );
    assert.deepEqual(rows, [{ effect: sendEffect, status: 'pending', attempts: 0 }]);
  });

  it('rolls the whole batch back when a statement fails: no snapshot, effect or processed key survives', async () => {
    await sql(`create function fail_boom() returns trigger language plpgsql as $$
      begin if new.idempotency_key = 'boom' then raise exception 'boom'; end if; return new; end $$`);
    await sql(
      'create trigger effects_boom before insert on effects for each row execute function fail_boom()',
    );
    try {
      const fine = row({ inputKey: 'in:rollback:1', effects: [{ key: 'e:rollback', effect: sendEffect }] });
      const boom = row({ inputKey: 'in:rollback:2', effects: [{ key: 'boom', effect: sendEffect }] });
      await assert.rejects(store.commitBatch([fine, boom]), (error: unknown) => {
        assert.ok(error instanceof BotflowError);
        assert.equal(error.code, 'STORE_UNAVAILABLE');
        return true;
      });
      assert.equal(await store.load('bot1', fine.userId), null);
      assert.equal(await store.load('bot1', boom.userId), null);
      assert.equal((await sql(`select 1 from effects where idempotency_key = 'e:rollback'`)).length, 0);
      assert.equal((await sql(`select 1 from processed_inputs where key like 'in:rollback:%'`)).length, 0);
    } finally {
      await sql('drop trigger effects_boom on effects');
    }
  });

  it('rejects a non-numeric user id as a bad request before writing', async () => {
    await assert.rejects(store.commitBatch([row({ userId: 'alice' })]), { code: 'BAD_REQUEST' });
  });
});

describe('the commit statement', () => {
  beforeEach(async () => {
    await sql('delete from shard_epochs');
  });

  /** Records every query config the pool's clients send while `fn` runs. */
  async function queriesDuring(fn: () => Promise<unknown>): Promise<unknown[]> {
    const pool = await db.orm.em.getConnection().getNativeClient();
    const seen: unknown[] = [];
    const patched: Array<{ query: unknown }> = [];
    const connect = pool.connect.bind(pool);
    pool.connect = (async () => {
      const client = await connect();
      if (patched.includes(client as { query: unknown })) return client;
      const original = client.query;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        seen.push(args[0]);
        return (original as (...a: unknown[]) => unknown).apply(client, args);
      };
      patched.push(client as { query: unknown });
      return client;
    }) as typeof pool.connect;
    try {
      await fn();
    } finally {
      pool.connect = connect as typeof pool.connect;
      for (const client of patched) delete client.query;
    }
    return seen;
  }

  it('writes a batch in one named statement (one round trip, one transaction)', async () => {
    const epoch = await claimShard(store, 7, 'worker-a');
    const rows = [1, 2, 3].map((n) =>
      row({
        epoch,
        inputKey: `one:${n}`,
        effects: [{ key: `one:e:${n}`, effect: sendEffect }],
        timersStarted: [{ timerId: 't', dueAt: 1_900_000_000_000, event: { type: 't' } }],
        records: [{ kind: 'bindTracking', token: null, payload: null, fbclid: null }],
      }),
    );
    const seen = await queriesDuring(async () => {
      assert.deepEqual(await store.commitBatch(rows), ['ok', 'ok', 'ok']);
      assert.deepEqual(await store.commitBatch([row({ epoch })]), ['ok']);
    });
    assert.equal(seen.length, 2, 'one statement per batch, no begin/commit');
    for (const config of seen) {
      const { name, text } = config as { name?: string; text?: string };
      assert.match(name ?? '', /^bf_commit_/);
      assert.match(text ?? '', /^with/);
    }
    assert.equal((await sql(`select 1 from effects where idempotency_key like 'one:e:%'`)).length, 3);
  });

  it('refuses a stale epoch, a processed input and a version conflict in one batch; they write nothing', async () => {
    const epoch = await claimShard(store, 7, 'worker-a');
    const existing = row({
      epoch,
      timersStarted: [{ timerId: 'keep', dueAt: 1_900_000_000_000, event: { type: 'k' } }],
    });
    const processed = row({ epoch, inputKey: 'mix:processed' });
    assert.deepEqual(await store.commitBatch([existing, processed]), ['ok', 'ok']);
    await sql(
      `insert into payments (order_id, bot_id, user_id, flow_step_id, amount_cents, description)
       values ('mix:order:conflict', 'bot1', $1, 'pay', 100, 'x'), ('mix:order:ok', 'bot1', $1, 'pay', 100, 'x')`,
      [existing.userId],
    );
    const charge = (order: string) =>
      ({
        type: 'createCharge',
        step: 'pay',
        order,
        amount_cents: 990,
        description: 'VIP',
        expires_in_minutes: 30,
        offer: null,
      }) as never;
    /** Everything a row can write, tagged so a refused row's traces are easy to find. */
    const everything = (tag: string) => ({
      inputKey: `mix:in:${tag}`,
      effects: [
        { key: `mix:e:${tag}`, effect: sendEffect },
        { key: `mix:charge:${tag}`, effect: charge(`pay:${tag}`) },
      ],
      timersStarted: [{ timerId: `mix:${tag}`, dueAt: 1_900_000_000_000, event: { type: tag } }],
      timersCancelled: ['keep'],
      records: [
        { kind: 'bindTracking', token: `tok:${tag}`, payload: { tag }, fbclid: null },
        { kind: 'conversion', eventId: `mix:ev:${tag}`, pixelId: 'px', payload: { tag } },
        { kind: 'paymentStatus', orderId: `mix:order:${tag}`, status: 'paid', at: 1_900_000_000_000 },
      ] as CommitRecord[],
    });
    const stale = row({ epoch: epoch - 1, ...everything('stale') });
    const duplicate = {
      ...processed,
      expectedVersion: 1,
      ...everything('duplicate'),
      inputKey: 'mix:processed',
    };
    const conflict = { ...existing, expectedVersion: 3, ...everything('conflict') };
    const ok = row({ epoch, ...everything('ok') });
    const outcomes = await store.commitBatch([stale, duplicate, conflict, ok]);
    assert.deepEqual(outcomes, ['stale_epoch', 'duplicate_input', 'version_conflict', 'ok']);

    const tags = async (query: string) => (await sql<{ t: string }>(query)).map((r) => r.t).sort();
    assert.deepEqual(
      await tags(`select idempotency_key as t from effects where idempotency_key like 'mix:%'`),
      ['mix:charge:ok', 'mix:e:ok'],
    );
    assert.deepEqual(await tags(`select key as t from processed_inputs where key like 'mix:%'`), [
      'mix:in:ok',
      'mix:processed',
    ]);
    assert.deepEqual(await tags(`select timer_id as t from timers where timer_id like 'mix:%'`), ['mix:ok']);
    assert.deepEqual(await store.load('bot1', existing.userId).then((c) => c?.timers), {
      keep: 1_900_000_000_000,
    });
    assert.deepEqual(
      await tags(`select tracking_token as t from bot_users where tracking_token like 'tok:%'`),
      ['tok:ok'],
    );
    assert.deepEqual(
      await sql(`select event_id, bot_id from conversion_events where event_id like 'mix:%'`),
      [{ event_id: 'mix:ev:ok', bot_id: 'bot1' }],
      'the conversion records the bot of the row that committed it',
    );
    assert.deepEqual(await tags(`select order_id as t from payments where order_id like 'mix:charge:%'`), [
      'mix:charge:ok',
    ]);
    assert.deepEqual(
      await sql(`select order_id, status from payments where order_id like 'mix:order:%' order by 1`),
      [
        { order_id: 'mix:order:conflict', status: 'pending' },
        { order_id: 'mix:order:ok', status: 'paid' },
      ],
    );
    assert.equal((await store.load('bot1', stale.userId)) ?? null, null);
    assert.equal((await store.load('bot1', existing.userId))?.rowVersion, 1);
    assert.equal((await store.load('bot1', processed.userId))?.rowVersion, 1);
    assert.equal((await store.load('bot1', ok.userId))?.rowVersion, 1);
  });

  it('commits any registered record kind, with the rows that commit only', async () => {
    await sql('create table test_notes (bot_id text, user_id bigint, note text)');
    const notes: RecordWriter = {
      kind: 'note',
      columns: [['note', 'text']],
      tuples: (_row, records) => records.map((r) => [r['note']]),
      statement: (source) => `insert into test_notes select bot_id, user_id, note from ${source} as x`,
    };
    const local = createConversationStore(db.orm, { recordWriters: [notes] });
    const epoch = await claimShard(local, 7, 'worker-a');
    const kept = row({
      epoch,
      records: [
        { kind: 'note', note: 'first' },
        { kind: 'note', note: 'second' },
      ],
    });
    const stale = row({ epoch: epoch - 1, records: [{ kind: 'note', note: 'stale' }] });
    assert.deepEqual(await local.commitBatch([kept, stale]), ['ok', 'stale_epoch']);
    assert.deepEqual(await sql('select bot_id, user_id::text, note from test_notes order by note'), [
      { bot_id: 'bot1', user_id: kept.userId, note: 'first' },
      { bot_id: 'bot1', user_id: kept.userId, note: 'second' },
    ]);
    await assert.rejects(local.commitBatch([row({ records: [{ kind: 'bindTracking' }] })]), {
      code: 'BAD_REQUEST',
    });
  });

  it('stores a created charge with the row that commits it, once per order', async () => {
    const epoch = await claimShard(store, 7, 'worker-a');
    const owner = row({ epoch });
    assert.deepEqual(await store.commitBatch([owner]), ['ok']);
    await sql(
      `insert into payments (order_id, bot_id, user_id, flow_step_id, amount_cents, description, expires_at)
       values ('charge:1', 'bot1', $1, 'pay', 990, 'VIP', '2030-01-01T00:00:00Z')`,
      [owner.userId],
    );
    const created = (chargeId: string) => ({
      kind: 'chargeCreated',
      orderId: 'charge:1',
      gateway: 'sandbox',
      gatewayChargeId: chargeId,
      brCode: `br-${chargeId}`,
      expiresAt: null,
      tracking: { source: 'none' },
    });
    const stale = { ...owner, epoch: epoch - 1, expectedVersion: 1, records: [created('stale')] };
    assert.deepEqual(await store.commitBatch([stale]), ['stale_epoch']);
    const read = () =>
      sql(
        `select gateway, gateway_charge_id, br_code, tracking, extract(epoch from expires_at)::float8 as expires_at
         from payments where order_id = 'charge:1'`,
      );
    assert.deepEqual((await read())[0], {
      gateway: null,
      gateway_charge_id: null,
      br_code: null,
      tracking: null,
      expires_at: Date.parse('2030-01-01T00:00:00Z') / 1000,
    });
    const first = { ...owner, expectedVersion: 1, inputKey: 'effect:charge:1', records: [created('ch_1')] };
    assert.deepEqual(await store.commitBatch([first]), ['ok']);
    const again = { ...owner, expectedVersion: 2, records: [created('ch_2')] };
    assert.deepEqual(await store.commitBatch([again]), ['ok']);
    assert.deepEqual((await read())[0], {
      gateway: 'sandbox',
      gateway_charge_id: 'ch_1',
      br_code: 'br-ch_1',
      tracking: { source: 'none' },
      expires_at: Date.parse('2030-01-01T00:00:00Z') / 1000,
    });
  });

  it('refuses a record kind no writer handles before writing', async () => {
    const r = row({ records: [{ kind: 'mystery' } as unknown as CommitRecord] });
    await assert.rejects(store.commitBatch([r]), { code: 'BAD_REQUEST' });
    assert.equal(await store.load('bot1', r.userId), null);
  });

  it('keeps one prepared copy in the embedded session when the pool reconnects', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'botflow-prepared-'));
    const embedded = await openDatabase({ dataDir });
    try {
      const local = createConversationStore(embedded.orm, { recordWriters });
      const pool = await embedded.orm.em.getConnection().getNativeClient();
      const prepared = async () => {
        const client = await pool.connect();
        try {
          const res = await client.query(
            `select count(*)::int as n from pg_prepared_statements where name like 'bf_commit_%'`,
          );
          return (res.rows[0] as { n: number }).n;
        } finally {
          client.release();
        }
      };
      assert.deepEqual(await local.commitBatch([row()]), ['ok']);
      assert.equal(await prepared(), 1);
      // Drop the connection: PGlite's one session (and the statement prepared in it) outlives it.
      (await pool.connect()).release(true);
      assert.deepEqual(await local.commitBatch([row()]), ['ok']);
      assert.deepEqual(await local.commitBatch([row()]), ['ok']);
      assert.equal(await prepared(), 1);
    } finally {
      await embedded.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  /** Commits `n` pending effects (in rows of their own) and returns their keys. */
  async function pendingEffects(prefix: string, n: number): Promise<string[]> {
    const keys = Array.from({ length: n }, (_, k) => `${prefix}:${k}`);
    const rows = keys.map((key) => row({ effects: [{ key, effect: sendEffect }] }));
    assert.deepEqual(
      await store.commitBatch(rows),
      rows.map(() => 'ok'),
    );
    return keys;
  }

  async function statusOf(keys: readonly string[]): Promise<string[]> {
    const rows = await sql<{ status: string }>(
      `select status from effects where idempotency_key = any($1::text[]) order by idempotency_key`,
      [keys],
    );
    return rows.map((r) => r.status);
  }

  it('records done-marks inside the next commit statement, even when its rows are refused', async () => {
    const keys = await pendingEffects('ride', 3);
    const epoch = await claimShard(store, 7, 'worker-a');
    const marked = store.markDoneWithCommit(keys, 60_000);
    const seen = await queriesDuring(async () => {
      assert.deepEqual(await store.commitBatch([row({ epoch: epoch - 1 })]), ['stale_epoch']);
      await marked;
    });
    assert.equal(seen.length, 1, 'the marks cost no statement of their own');
    assert.deepEqual(await statusOf(keys), ['done', 'done', 'done']);
  });

  it('records done-marks alone when no commit comes within the linger', async () => {
    const keys = await pendingEffects('alone', 2);
    const marked = store.markDoneWithCommit(keys, 50);
    assert.deepEqual(await statusOf(keys), ['pending', 'pending'], 'it waits for a commit first');
    await marked;
    assert.deepEqual(await statusOf(keys), ['done', 'done']);
  });

  it('fails the done-marks a failed commit carried, recording none of them', async () => {
    const keys = await pendingEffects('lost', 2);
    await sql(`create or replace function fail_boom() returns trigger language plpgsql as $$
      begin if new.idempotency_key = 'boom' then raise exception 'boom'; end if; return new; end $$`);
    await sql(
      'create trigger effects_boom before insert on effects for each row execute function fail_boom()',
    );
    try {
      const marked = store.markDoneWithCommit(keys, 60_000);
      const boom = row({ effects: [{ key: 'boom', effect: sendEffect }] });
      await assert.rejects(store.commitBatch([boom]), { code: 'STORE_UNAVAILABLE' });
      await assert.rejects(marked, { code: 'STORE_UNAVAILABLE' });
      assert.deepEqual(await statusOf(keys), ['pending', 'pending']);
    } finally {
      await sql('drop trigger effects_boom on effects');
    }
  });
});

describe('timers', () => {
  const T0 = 1_900_000_000_000;

  it('starts, restarts, cancels and reports due timers by shard, oldest first', async () => {
    const a = row({
      shard: 100,
      timersStarted: [
        { timerId: 'late', dueAt: T0 + 5_000, event: { type: 'late' } },
        { timerId: 'soon', dueAt: T0 + 1_000, event: { type: 'soon' } },
        { timerId: 'gone', dueAt: T0 + 500, event: { type: 'gone' } },
      ],
    });
    const b = row({ shard: 101, timersStarted: [{ timerId: 'other', dueAt: T0, event: { type: 'other' } }] });
    assert.deepEqual(await store.commitBatch([a, b]), ['ok', 'ok']);

    const step2 = {
      ...a,
      expectedVersion: 1,
      timersStarted: [{ timerId: 'soon', dueAt: T0 + 2_000, event: { type: 'soon2' } }],
      timersCancelled: ['gone'],
    };
    assert.deepEqual(await store.commitBatch([step2]), ['ok']);
    assert.deepEqual((await store.load('bot1', a.userId))?.timers, { late: T0 + 5_000, soon: T0 + 2_000 });

    assert.deepEqual(await store.dueTimers([100], T0 + 1_999, 10), []);
    const due = await store.dueTimers([100, 101], T0 + 10_000, 10);
    assert.deepEqual(
      due.map((t) => [t.userId, t.timerId, t.dueAt, t.event.type]),
      [
        [b.userId, 'other', T0, 'other'],
        [a.userId, 'soon', T0 + 2_000, 'soon2'],
        [a.userId, 'late', T0 + 5_000, 'late'],
      ],
    );
    assert.deepEqual(
      (await store.dueTimers([100], T0 + 10_000, 1)).map((t) => t.timerId),
      ['soon'],
    );
    assert.deepEqual(await store.dueTimers([], T0 + 10_000, 10), []);
    // One read also says when the next pending timer of those shards falls due.
    const early = await store.pollTimers([100, 101], T0 + 1_999, 10);
    assert.deepEqual(
      early.due.map((t) => t.timerId),
      ['other'],
    );
    assert.equal(early.nextDueAt, T0 + 2_000);
    assert.deepEqual(await store.pollTimers([100], T0 - 1, 10), { due: [], nextDueAt: T0 + 2_000 });
    assert.deepEqual(await store.pollTimers([100], T0 + 10_000, 10).then((p) => p.nextDueAt), null);

    const soon = due[1]!;
    assert.equal(await store.markTimerFired(soon.id), true);
    assert.equal(await store.markTimerFired(soon.id), false);
    assert.deepEqual(
      (await store.dueTimers([100], T0 + 10_000, 10)).map((t) => t.timerId),
      ['late'],
    );
  });

  it('cancels and restarts the same timer id in one commit, leaving one pending timer', async () => {
    const a = row({ shard: 102, timersStarted: [{ timerId: 'loop', dueAt: T0, event: { type: 'tick' } }] });
    assert.deepEqual(await store.commitBatch([a]), ['ok']);
    const fired = {
      ...a,
      expectedVersion: 1,
      inputKey: `timer:${a.userId}:loop:${T0}`,
      timersCancelled: ['loop'],
      timersStarted: [{ timerId: 'loop', dueAt: T0 + 60_000, event: { type: 'tick' } }],
    };
    assert.deepEqual(await store.commitBatch([fired]), ['ok']);
    assert.deepEqual((await store.load('bot1', a.userId))?.timers, { loop: T0 + 60_000 });
    // The restart moves the pending row (one statement cannot cancel a row and insert its successor).
    const rows = await sql<{ status: string; due: number }>(
      `select status, round(extract(epoch from due_at) * 1000)::float8 as due from timers
       where bot_id = $1 and user_id = $2 and status = 'pending'`,
      ['bot1', a.userId],
    );
    assert.deepEqual(rows, [{ status: 'pending', due: T0 + 60_000 }]);
  });
});

describe('conversation loads in a generic plan made while conversations was small', () => {
  it('probe each key, reading no table whole once it grew', async () => {
    // One pooled connection, so the load's prepared statement and its plan stay on it; the test's
    // transaction is left open on it while the store borrows it, so its statistics are the load's.
    const pool = new pg.Pool({ connectionString: fresh.url, max: 1 });
    const orm = { em: { getConnection: () => ({ getNativeClient: async () => pool }) } };
    const loads = createConversationStore(orm as never);
    try {
      assert.deepEqual(await loads.commitBatch([row({ botId: 'grow', userId: '1' })]), ['ok']);
      assert.equal((await loads.loadMany([{ botId: 'grow', userId: '1' }])).size, 1);
      await sql(
        `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
         select 'grow', g, 'f', 1, '5', '{"status":"active","value":"a","context":{}}', 1, 3
         from generate_series(2, 3001) g`,
      );
      const session = await pool.connect();
      await session.query('begin');
      session.release();
      const found = await loads.loadMany([
        { botId: 'grow', userId: '17' },
        { botId: 'grow', userId: '1' },
        { botId: 'grow', userId: '99999' },
      ]);
      const again = await pool.connect();
      const [scans] = (
        await again.query<{ seq_scan: number }>(
          `select seq_scan::int from pg_stat_xact_user_tables where relname = 'conversations'`,
        )
      ).rows;
      await again.query('rollback');
      again.release();
      assert.deepEqual([...found.keys()].sort(), ['grow:1', 'grow:17']);
      assert.equal(found.get('grow:17')?.rowVersion, 1);
      assert.equal(scans?.seq_scan, 0);
    } finally {
      await pool.end();
    }
  });
});
