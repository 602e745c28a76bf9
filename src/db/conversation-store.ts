/**
 * The Postgres conversation store: the hot write path of the actor runtime. A batch of commits from
 * many conversations is written by one prepared statement (one round trip, one transaction), each row
 * guarded by its row version and its shard epoch; a refused row writes nothing, the others commit.
 */
import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import type { PersistedConversation } from '../flow/advance-conversation.ts';
import { BotflowError } from '../errors.ts';
import { preparedName, queryPrepared } from './sql-client.ts';
import { buildCommitStatement, writeCommitBatch } from './write-commit-batch.ts';
import { markEffectsDoneSql } from './mark-effects-done.ts';
import type { ConversationStore, DueTimer, RecordWriter, StoredConversation } from '../runtime/ports.ts';
import { conversationKeyOf } from '../runtime/conversation-key.ts';

/** A due timer with its row id (for `markTimerFired`). */
export interface DueTimerRow extends DueTimer {
  id: string;
}

/** The runtime's `ConversationStore` plus shard fencing and timer bookkeeping. */
export interface PostgresConversationStore extends ConversationStore {
  /**
   * Takes ownership of shards in one statement: bumps and returns each shard's epoch, fencing out
   * their previous owners.
   */
  claimShards(shards: readonly number[], owner: string): Promise<Map<number, number>>;
  dueTimers(shards: readonly number[], now: number, limit: number): Promise<DueTimerRow[]>;
  pollTimers(
    shards: readonly number[],
    now: number,
    limit: number,
  ): Promise<{ due: DueTimerRow[]; nextDueAt: number | null }>;
  /** Marks a pending timer fired; false when it was no longer pending. */
  markTimerFired(id: string): Promise<boolean>;
  /**
   * Records effects done inside the next group commit's statement, or, when no commit starts within
   * `lingerMs` (an idle system), in one statement of its own; rejects when the write failed.
   */
  markDoneWithCommit(keys: readonly string[], lingerMs: number): Promise<void>;
}

/** Done-marks waiting for a commit to ride. */
interface Rider {
  keys: readonly string[];
  timer: NodeJS.Timeout;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Options: `xstateVersion` is recorded with each snapshot (default '5'); `recordWriters` write the
 * records committed with rows, by kind (the domains' writers, which the composition root registers;
 * none by default); `prepare` (default true) names the commit and load statements so the server
 * parses and plans them once per connection.
 */
export interface ConversationStoreOptions {
  xstateVersion?: string;
  recordWriters?: readonly RecordWriter[];
  prepare?: boolean;
}

const USER_ID = /^-?\d{1,19}$/;

/** Creates the store over the ORM's `pg` pool (raw SQL; the ORM's unit of work is not involved). */
export function createConversationStore(
  orm: MikroORM,
  options: ConversationStoreOptions = {},
): PostgresConversationStore {
  const xstateVersion = options.xstateVersion ?? '5';
  const pool = () => orm.em.getConnection().getNativeClient();
  const writers = options.recordWriters ?? [];
  const kinds = new Set(writers.map((w) => w.kind));
  const statement = buildCommitStatement(writers);
  const base = `bf_commit_${createHash('sha256').update(statement.text).digest('hex').slice(0, 12)}`;
  const prepare = options.prepare ?? true;
  let riders: Rider[] = [];

  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      const result = await (await pool()).query<R>(sql, params);
      return result.rows;
    } catch (error) {
      throw storeError(error);
    }
  }

  /** Takes every waiting done-mark for the commit about to run. */
  function takeRiders(): Rider[] {
    const taken = riders;
    riders = [];
    for (const rider of taken) clearTimeout(rider.timer);
    return taken;
  }

  /** Fails the done-marks a failed commit carried (their runner retries them); returns the store error. */
  function rejectRiders(taken: readonly Rider[], error: unknown): BotflowError {
    const failure = storeError(error);
    for (const rider of taken) rider.reject(failure);
    return failure;
  }

  /** No commit came for a done-mark in time: records it in a statement of its own. */
  function markAlone(rider: Rider): void {
    riders = riders.filter((r) => r !== rider);
    query(MARK_DONE_SQL, [rider.keys]).then(() => rider.resolve(), rider.reject);
  }

  const store: PostgresConversationStore = {
    async load(botId, userId) {
      return (await store.loadMany([{ botId, userId }])).get(conversationKeyOf(botId, userId)) ?? null;
    },

    async loadMany(keys) {
      const found = new Map<string, StoredConversation>();
      if (keys.length === 0) return found;
      for (const key of keys) checkUserId(key.userId);
      let rows: LoadRow[];
      try {
        const params = [keys.map((k) => k.botId), keys.map((k) => k.userId)];
        rows = prepare
          ? await queryPrepared<LoadRow>(await pool(), 'bf_load', LOAD_SQL, params)
          : (await (await pool()).query<LoadRow>(LOAD_SQL, params)).rows;
      } catch (error) {
        throw storeError(error);
      }
      for (const row of rows) {
        found.set(conversationKeyOf(row.bot_id, row.user_id), {
          botId: row.bot_id,
          userId: row.user_id,
          flowId: row.flow_id,
          flowVersion: row.flow_version,
          snapshot: row.snapshot,
          rowVersion: row.row_version,
          timers: row.timers,
        });
      }
      return found;
    },

    async commitBatch(rows) {
      if (rows.length === 0) return [];
      for (const row of rows) {
        checkUserId(row.userId);
        for (const record of row.records ?? []) {
          if (!kinds.has(record.kind))
            throw new BotflowError('BAD_REQUEST', `no writer for records of kind ${record.kind}`);
        }
      }
      const riding = takeRiders();
      let client: pg.PoolClient;
      try {
        client = await (await pool()).connect();
      } catch (error) {
        throw rejectRiders(riding, error);
      }
      try {
        const name = prepare ? await preparedName(client, base) : null;
        const doneKeys = riding.flatMap((r) => r.keys);
        const outcomes = await writeCommitBatch(client, statement, rows, xstateVersion, name, doneKeys);
        for (const rider of riding) rider.resolve();
        return outcomes;
      } catch (error) {
        throw rejectRiders(riding, error);
      } finally {
        client.release();
      }
    },

    markDoneWithCommit(keys, lingerMs) {
      if (keys.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const rider: Rider = { keys, resolve, reject, timer: setTimeout(() => markAlone(rider), lingerMs) };
        rider.timer.unref?.();
        riders.push(rider);
      });
    },

    async dueTimers(shards, now, limit) {
      return (await store.pollTimers(shards, now, limit)).due;
    },

    async pollTimers(shards, now, limit) {
      if (shards.length === 0) return { due: [], nextDueAt: null };
      const rows = await query<TimerRow & { id: string | null; next_due: number | null }>(POLL_TIMERS_SQL, [
        shards,
        new Date(now).toISOString(),
        Math.max(0, limit),
      ]);
      const due = rows
        .filter((r) => r.id !== null)
        .map((r) => ({
          id: r.id!,
          botId: r.bot_id,
          userId: r.user_id,
          timerId: r.timer_id,
          dueAt: r.due_at,
          event: r.event,
        }));
      return { due, nextDueAt: rows[0]?.next_due ?? null };
    },

    async markTimerFired(id) {
      const rows = await query(
        `update timers set status = 'fired' where id = $1 and status = 'pending' returning id`,
        [id],
      );
      return rows.length > 0;
    },

    async claimShards(shards, owner) {
      const rows = await query<{ shard: number; epoch: string }>(
        `insert into shard_epochs (shard, epoch, owner) select s, 1, $2 from unnest($1::int[]) as s
         on conflict (shard) do update set epoch = shard_epochs.epoch + 1, owner = excluded.owner, claimed_at = now()
         returning shard, epoch`,
        [shards, owner],
      );
      return new Map(rows.map((r) => [r.shard, Number(r.epoch)]));
    },
  };
  return store;
}

interface LoadRow {
  bot_id: string;
  user_id: string;
  flow_id: string;
  flow_version: number;
  snapshot: PersistedConversation;
  row_version: number;
  timers: Record<string, number>;
}

interface TimerRow {
  id: string;
  bot_id: string;
  user_id: string;
  timer_id: string;
  due_at: number;
  event: { type: string };
}

/**
 * Conversations with their pending timers, one primary-key probe per key (lateral, limit 1): the plan is
 * generic and kept per connection, and a join made on a small table hashed the keys against all of
 * `conversations`, read whole on every load once it grew.
 */
const LOAD_SQL = `
  select c.bot_id, c.user_id::text, c.flow_id, c.flow_version, c.snapshot, c.row_version,
    coalesce((select jsonb_object_agg(t.timer_id, round(extract(epoch from t.due_at) * 1000))
              from timers t
              where t.bot_id = c.bot_id and t.user_id = c.user_id and t.status = 'pending'), '{}'::jsonb) as timers
  from unnest($1::text[], $2::bigint[]) as k(b, u)
  cross join lateral (select * from conversations c where c.bot_id = k.b and c.user_id = k.u limit 1) c`;

const MARK_DONE_SQL = markEffectsDoneSql('$1');

/** The due timers (oldest first) and the next due time, as at least one row (its timer columns null when none is due). */
const POLL_TIMERS_SQL = `
  with due as (
    select id::text, bot_id, user_id::text, timer_id, round(extract(epoch from due_at) * 1000)::float8 as due_at, event, id as seq
    from timers
    where status = 'pending' and due_at <= $2 and shard = any($1::int[])
    order by due_at, id limit $3),
  next as (
    select round(extract(epoch from min(due_at)) * 1000)::float8 as next_due
    from timers where status = 'pending' and due_at > $2 and shard = any($1::int[]))
  select d.id, d.bot_id, d.user_id, d.timer_id, d.due_at, d.event, n.next_due
  from next n left join due d on true
  order by d.due_at, d.seq`;

function checkUserId(userId: string): void {
  if (!USER_ID.test(userId)) {
    throw new BotflowError('BAD_REQUEST', 'a conversation user id must be a Telegram numeric id');
  }
}

function storeError(error: unknown): BotflowError {
  if (error instanceof BotflowError) return error;
  return new BotflowError('STORE_UNAVAILABLE', 'the conversation store failed', { cause: error });
}
