/**
 * The effects outbox in Postgres: effects are inserted by the conversation commit; this records their
 * outcome (done, failed with the next attempt time, or dead) and finds the pending ones of a worker's
 * shards, which the runner re-reads after any failure and at start, so every committed effect runs at
 * least once.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Effect } from '../flow/types.ts';
import type { KeyedEffect } from '../runtime/conversation-host.ts';
import type { EffectOutbox } from '../runtime/effect-runner.ts';
import { createSql } from './sql-client.ts';
import { markEffectsDoneSql } from './mark-effects-done.ts';

/** The outbox, plus the read of pending effects. */
export interface PostgresEffectOutbox extends EffectOutbox {
  /** Pending effects of conversations in `shards` whose next attempt is due, oldest first. */
  pending(shards: readonly number[], now: number, limit: number): Promise<KeyedEffect[]>;
}

// An effect's shard is its conversation's (the row is written in the same commit as the effect).
const PENDING_SQL = `
  select e.idempotency_key, e.bot_id, e.user_id::text, e.effect, e.flow_version
  from effects e
  join conversations c on c.bot_id = e.bot_id and c.user_id = e.user_id
  where e.status = 'pending' and e.next_attempt_at <= $1 and c.shard = any($2::int[])
  order by e.id limit $3`;

/**
 * Options: `rideCommit` records done-marks with the next group commit (the conversation store's
 * `markDoneWithCommit`), so they cost no statement of their own under load; without it each batch of
 * marks is a statement.
 */
export interface EffectOutboxOptions {
  rideCommit?(keys: readonly string[]): Promise<void>;
}

/** Creates the outbox over the ORM's pool. */
export function createEffectOutbox(orm: MikroORM, options: EffectOutboxOptions = {}): PostgresEffectOutbox {
  const sql = createSql(orm);
  return {
    async markDone(keys) {
      if (keys.length === 0) return;
      if (options.rideCommit !== undefined) return options.rideCommit(keys);
      await sql(markEffectsDoneSql('$1'), [keys]);
    },
    async markFailed(key, failure) {
      await sql(
        `update effects set status = $2, attempts = $3, last_error = $4,
           next_attempt_at = coalesce($5::timestamptz, next_attempt_at)
         where idempotency_key = $1`,
        [
          key,
          failure.dead ? 'dead' : 'pending',
          failure.attempts,
          failure.error.slice(0, 500),
          failure.nextAttemptAt === null ? null : new Date(failure.nextAttemptAt).toISOString(),
        ],
      );
    },
    async pending(shards, now, limit) {
      if (shards.length === 0 || limit <= 0) return [];
      const rows = await sql<{
        idempotency_key: string;
        bot_id: string;
        user_id: string;
        effect: Effect;
        flow_version: number;
      }>(PENDING_SQL, [new Date(now).toISOString(), shards, limit]);
      return rows.map((r) => ({
        key: r.idempotency_key,
        botId: r.bot_id,
        userId: r.user_id,
        flowVersion: r.flow_version,
        effect: r.effect,
      }));
    },
  };
}
