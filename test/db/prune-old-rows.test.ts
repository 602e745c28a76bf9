import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pruneOldRows } from '../../src/db/prune-old-rows.ts';
import { useMigratedDatabase } from './fresh-database.ts';

const database = useMigratedDatabase();

/** Rows of every pruned table, `days` old, in `status` (the finished statuses differ per table). */
async function seed(
  tag: string,
  days: number,
  status: { effect: string; timer: string; conversion: string },
) {
  const at = `now() - make_interval(days => ${days})`;
  await database.sql(
    `insert into effects (bot_id, user_id, idempotency_key, effect, status, created_at)
     values ('b', 1, $1, '{}', $2, ${at})`,
    [`e-${tag}`, status.effect],
  );
  await database.sql(
    `insert into timers (bot_id, user_id, shard, timer_id, due_at, event, status, created_at)
     values ('b', 1, 0, $1, now(), '{"type":"x"}', $2, ${at})`,
    [`t-${tag}`, status.timer],
  );
  await database.sql(
    `insert into conversion_events (event_id, pixel_id, payload, status, created_at)
     values ($1, 'px', '{}', $2, ${at})`,
    [`c-${tag}`, status.conversion],
  );
}
const left = async () => ({
  effects: (await database.sql<{ k: string }>('select idempotency_key as k from effects order by k')).map(
    (r) => r.k,
  ),
  timers: (await database.sql<{ k: string }>('select timer_id as k from timers order by k')).map((r) => r.k),
  conversions: (
    await database.sql<{ k: string }>('select event_id as k from conversion_events order by k')
  ).map((r) => r.k),
});

describe('pruneOldRows', () => {
  it('deletes finished rows past the retention period, and keeps pending and recent ones', async () => {
    const finished = { effect: 'done', timer: 'fired', conversion: 'sent' };
    const dead = { effect: 'dead', timer: 'cancelled', conversion: 'dead' };
    const pending = { effect: 'pending', timer: 'pending', conversion: 'pending' };
    await seed('old-finished', 30, finished);
    await seed('old-dead', 20, dead);
    await seed('old-pending', 30, pending);
    await seed('recent-finished', 3, finished);
    await seed('new-pending', 0, pending);
    const counts = await pruneOldRows(database.sql, { retentionDays: 14, chunk: 1 });
    assert.deepEqual(counts, { effects: 2, timers: 2, conversion_events: 2 }, 'in chunks of one, all found');
    assert.deepEqual(await left(), {
      effects: ['e-new-pending', 'e-old-pending', 'e-recent-finished'],
      timers: ['t-new-pending', 't-old-pending', 't-recent-finished'],
      conversions: ['c-new-pending', 'c-old-pending', 'c-recent-finished'],
    });
    assert.deepEqual(await pruneOldRows(database.sql, { retentionDays: 14 }), {
      effects: 0,
      timers: 0,
      conversion_events: 0,
    });
  });
});
