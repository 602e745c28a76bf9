/**
 * The done-mark of effects, by idempotency key: each key is probed on the unique index (a lateral
 * `limit 1`) and its row upserted onto itself, so the insert never happens and the update is the
 * done-mark. An `update ... where idempotency_key = any($keys)` let the generic plan choose how to
 * find the keys, and one made before the table had statistics read all of `effects` for every batch of
 * marks (a quarter of Postgres's CPU in the webhook benchmark, growing with the table). Keys are
 * taken once each (an upsert cannot touch a row twice in one statement) and in key order, so two
 * statements marking the same effects lock them in one order. The row it would insert is
 * already done, so a row pruned between the probe and the upsert comes back done, never pending (it
 * is never run again).
 */

/** The statement (or CTE body) marking the effects whose keys are the text array `keysParam` done. */
export function markEffectsDoneSql(keysParam: string): string {
  return `insert into effects (id, bot_id, user_id, idempotency_key, effect, status)
    select e.id, e.bot_id, e.user_id, e.idempotency_key, e.effect, 'done'
    from (select distinct key from unnest(${keysParam}::text[]) as k(key) order by key) as x
    cross join lateral (select id, bot_id, user_id, idempotency_key, effect from effects
      where idempotency_key = x.key limit 1) e
    on conflict (idempotency_key) do update set status = 'done', last_error = null`;
}
