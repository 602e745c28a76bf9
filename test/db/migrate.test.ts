import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConversationStore } from '../../src/db/conversation-store.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { MIGRATIONS } from '../../src/db/migrations/index.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

const TABLES = [
  'access_grants',
  'bot_users',
  'bots',
  'conversations',
  'conversion_events',
  'effects',
  'flow_versions',
  'flows',
  'mikro_orm_migrations',
  'payments',
  'processed_inputs',
  'shard_epochs',
  'step_counts',
  'timers',
  'tracking_links',
];

let fresh: FreshDatabase;
let db: DatabaseHandle;

before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
});

after(async () => {
  await db?.close();
  await fresh?.drop();
});

async function sql<R = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const pool = await handle.orm.em.getConnection().getNativeClient();
  return (await pool.query(text, params)).rows as R[];
}

async function tablesIn(handle: DatabaseHandle, schema: string): Promise<string[]> {
  const rows = await sql<{ table_name: string }>(
    handle,
    'select table_name from information_schema.tables where table_schema = $1 order by 1',
    [schema],
  );
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  it('create every table on a fresh database', async () => {
    assert.deepEqual(await tablesIn(db, 'public'), TABLES);
    const applied = await sql<{ name: string }>(db, 'select name from mikro_orm_migrations');
    assert.deepEqual(
      applied.map((r) => r.name),
      [
        '0001-initial',
        '0002-funnel',
        '0003-presell',
        '0004-access-lookups',
        '0005-join-requests',
        '0006-payment-checks',
        '0007-conversion-bots',
        '0008-step-counts',
      ],
    );
    assert.equal(db.embedded, false);
    assert.equal(db.url, fresh.url);
  });

  it('are idempotent: a second run and a second open apply nothing', async () => {
    assert.deepEqual(await migrateDatabase(db.orm), []);
    assert.deepEqual(await db.orm.migrator.getPending(), []);
    const again = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    await again.close();
    assert.equal((await sql(db, 'select 1 from mikro_orm_migrations')).length, MIGRATIONS.length);
  });

  it('match the entities: the ORM sees no schema difference', async () => {
    const diff = await db.orm.schema.getUpdateSchemaSQL({ wrap: false });
    assert.equal(diff.trim(), '');
  });

  it('keep published flow versions immutable and unique per (flow, version)', async () => {
    await sql(
      db,
      `insert into flow_versions (flow_id, version, definition, compiled_hash) values ('f', 1, '{}', 'h')`,
    );
    await assert.rejects(
      sql(db, `update flow_versions set compiled_hash = 'x' where flow_id = 'f'`),
      /immutable/,
    );
    await assert.rejects(
      sql(
        db,
        `insert into flow_versions (flow_id, version, definition, compiled_hash) values ('f', 1, '{}', 'h')`,
      ),
      /duplicate key/,
    );
  });

  it('allow one pending timer per (bot, user, timer id), any number of finished ones', async () => {
    const insert = `insert into timers (bot_id, user_id, shard, timer_id, due_at, event, status)
      values ('b', 1, 0, 't', now(), '{}', $1)`;
    await sql(db, insert, ['cancelled']);
    await sql(db, insert, ['cancelled']);
    await sql(db, insert, ['pending']);
    await assert.rejects(sql(db, insert, ['pending']), /duplicate key/);
  });

  it('serialize concurrent starters on a fresh database', async () => {
    const other = await createFreshDatabase();
    try {
      const handles = await Promise.all([1, 2, 3].map(() => openDatabase({ url: other.url, dataDir: '/x' })));
      const rows = await sql(handles[0]!, 'select 1 from mikro_orm_migrations');
      await Promise.all(handles.map((h) => h.close()));
      assert.equal(rows.length, MIGRATIONS.length);
    } finally {
      await other.drop();
    }
  });

  it('run inside a named schema, and raw SQL finds its tables there', async () => {
    const inSchema = await openDatabase({ url: fresh.url, dataDir: '/x', schema: 'tenant_a' });
    try {
      assert.deepEqual(await tablesIn(inSchema, 'tenant_a'), TABLES);
      const store = createConversationStore(inSchema.orm);
      const outcome = await store.commitBatch([
        {
          botId: 'b',
          userId: '42',
          shard: 1,
          epoch: 0,
          expectedVersion: 0,
          flowId: 'f',
          flowVersion: 1,
          snapshot: { status: 'active', value: 's', context: {} as never },
          effects: [],
          timersStarted: [],
          timersCancelled: [],
          inputKey: null,
        },
      ]);
      assert.deepEqual(outcome, ['ok']);
      assert.equal((await sql(inSchema, 'select 1 from tenant_a.conversations')).length, 1);
      assert.equal((await sql(db, 'select 1 from public.conversations')).length, 0);
    } finally {
      await inSchema.close();
    }
  });
});
