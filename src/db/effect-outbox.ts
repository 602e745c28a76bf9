/**
 * The effects outbox in Postgres: effects are inserted by the conversation commit; this records their
 * outcome (done, failed with the next attempt time, or dead) and finds the ones a restarted worker must
 * run again, so every committed effect runs at least once.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Effect } from '../flow/types.ts';
import type { KeyedEffect } from '../runtime/conversation-host.ts';
import type { EffectOutbox } from '../runtime/effect-runner.ts';
import { batchWrites } from './batch-writes.ts';
import { createSql } from './sql-client.ts';

/** The outbox, plus recovery of pending effects. */
export interface PostgresEffectOutbox extends EffectOutbox {
  /** Pending effects whose next attempt is due, oldest first. */
  pending(now: number, limit: number): Promise<KeyedEffect[]>;
}

/** Creates the outbox over the ORM's pool. */
export function createEffectOutbox(orm: MikroORM): PostgresEffectOutbox {
  const sql = createSql(orm);
  // Marks that arrive within 20 ms are committed together (one WAL flush for many sends); nobody waits
  // on a mark (the runner records it off the chat's chain), so the linger costs no latency.
  const markDone = batchWrites<string>(
    async (keys) => {
      await sql(
        `update effects set status = 'done', last_error = null where idempotency_key = any($1::text[])`,
        [keys],
      );
    },
    500,
    20,
  );
  return {
    markDone,
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
    async pending(now, limit) {
      const rows = await sql<{
        idempotency_key: string;
        bot_id: string;
        user_id: string;
        effect: Effect;
        flow_version: number;
      }>(
        `select idempotency_key, bot_id, user_id::text, effect, flow_version from effects
         where status = 'pending' and next_attempt_at <= $1 order by id limit $2`,
        [new Date(now).toISOString(), limit],
      );
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
