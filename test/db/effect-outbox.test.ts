import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEffectOutbox } from '../../src/db/effect-outbox.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

describe('effect outbox on Postgres', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  const now = Date.parse('2026-12-07T12:00:00Z');

  async function sql<R = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
    const pool = await db.orm.em.getConnection().getNativeClient();
    return (await pool.query(text, params)).rows as R[];
  }

  /** A conversation in `shard` with one pending effect due at `due`. */
  async function effectIn(shard: number, userId: number, key: string, due = now - 1000): Promise<void> {
    await sql(
      `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
       values ('b', $1, 'f', 1, '5', '{}', 1, $2) on conflict do nothing`,
      [userId, shard],
    );
    await sql(
      `insert into effects (bot_id, user_id, idempotency_key, effect, next_attempt_at, flow_version)
       values ('b', $1, $2, $3, $4, 1)`,
      [userId, key, JSON.stringify({ type: 'send', step: 's', message: { text: key } }), new Date(due)],
    );
  }

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    await effectIn(3, 1, 'k1');
    await effectIn(4, 2, 'k2');
    await effectIn(3, 1, 'k3');
    await effectIn(5, 3, 'k4');
    await effectIn(3, 4, 'later', now + 60_000);
  });

  after(async () => {
    await db.close();
    await fresh.drop();
  });

  it("reads only the due pending effects of the worker's shards, oldest first", async () => {
    const outbox = createEffectOutbox(db.orm);
    const mine = await outbox.pending([3, 4], now, 100);
    assert.deepEqual(
      mine.map((e) => e.key),
      ['k1', 'k2', 'k3'],
      'shard 5 is another worker’s; "later" is not due',
    );
    assert.deepEqual(mine[0], {
      key: 'k1',
      botId: 'b',
      userId: '1',
      flowVersion: 1,
      effect: { type: 'send', step: 's', message: { text: 'k1' } },
    });
    assert.deepEqual(
      (await outbox.pending([3, 4], now, 2)).map((e) => e.key),
      ['k1', 'k2'],
    );
    assert.deepEqual(await outbox.pending([], now, 100), []);
  });

  it('records many done effects in one statement, and a dead one', async () => {
    const outbox = createEffectOutbox(db.orm);
    await outbox.markDone(['k1', 'k3']);
    await outbox.markFailed('k2', {
      attempts: 3,
      error: 'UPSTREAM_REJECTED: no',
      dead: true,
      nextAttemptAt: null,
    });
    const rows = await sql<{ idempotency_key: string; status: string }>(
      `select idempotency_key, status from effects order by id`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.idempotency_key}:${r.status}`),
      ['k1:done', 'k2:dead', 'k3:done', 'k4:pending', 'later:pending'],
    );
    assert.deepEqual(await outbox.pending([3, 4], now, 100), []);
  });
});
