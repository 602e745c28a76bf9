import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConversationStore, type PostgresConversationStore } from '../../src/db/conversation-store.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { STEP_COUNT_WRITER } from '../../src/db/step-count-writer.ts';
import type { CommitRow } from '../../src/runtime/ports.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';
import { createCommitRows } from '../support/commit-row.ts';

let fresh: FreshDatabase;
let db: DatabaseHandle;
let store: PostgresConversationStore;

before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  store = createConversationStore(db.orm, { recordWriters: [STEP_COUNT_WRITER] });
});
after(async () => {
  await db?.close();
  await fresh?.drop();
});

async function counts(): Promise<Record<string, number>> {
  const pool = await db.orm.em.getConnection().getNativeClient();
  const rows = (
    await pool.query<{ key: string; entered: number }>(
      `select flow_id || ' v' || flow_version || ' ' || step as key, entered from step_counts
       where day = (now() at time zone 'UTC')::date order by 1`,
    )
  ).rows;
  return Object.fromEntries(rows.map((r) => [r.key, r.entered]));
}

const newRow = createCommitRows('bot1', 1, { shard: 1, flowId: 'vip', flowVersion: 2 });

/** A new conversation's first commit, entering `steps`, with input key `inputKey`. */
function row(steps: string[], inputKey: string, overrides: Partial<CommitRow> = {}): CommitRow {
  return newRow({
    snapshot: { status: 'active', value: steps.at(-1) ?? 'x', context: {} as never },
    inputKey,
    records: steps.length === 0 ? [] : [{ kind: 'stepsEntered', steps }],
    ...overrides,
  });
}

describe('the step count writer (group commit)', () => {
  it('sums a batch per flow version and step, adds later batches, and never counts a refused row', async () => {
    const batch = [
      row(['welcome', 'ask_email'], 'u:1'),
      row(['welcome', 'ask_email'], 'u:2'),
      row(['welcome'], 'u:3', { flowVersion: 3 }),
      row([], 'u:4'),
    ];
    assert.deepEqual(await store.commitBatch(batch), ['ok', 'ok', 'ok', 'ok']);
    assert.deepEqual(await counts(), { 'vip v2 ask_email': 2, 'vip v2 welcome': 2, 'vip v3 welcome': 1 });

    // A redelivered update (same input key) is refused whole: its steps do not count again.
    const again = row(['welcome', 'ask_email'], 'u:1');
    const next = row(['offers'], 'u:5');
    assert.deepEqual(await store.commitBatch([again, next]), ['duplicate_input', 'ok']);
    assert.deepEqual(await counts(), {
      'vip v2 ask_email': 2,
      'vip v2 offers': 1,
      'vip v2 welcome': 2,
      'vip v3 welcome': 1,
    });
  });
});
