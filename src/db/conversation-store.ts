/**
 * The Postgres conversation store: the hot write path of the actor runtime. A batch of commits from
 * many conversations is written in one transaction with one statement per table (unnest arrays), each
 * row guarded by its row version and its shard epoch; a refused row writes nothing, the others commit.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import type { PersistedConversation } from '../flow/advance-conversation.ts';
import { BotflowError } from '../errors.ts';
import type {
  CommitOutcome,
  CommitRow,
  ConversationStore,
  DueTimer,
  StoredConversation,
} from '../runtime/ports.ts';

/** A due timer with its row id (for `markTimerFired`). */
export interface DueTimerRow extends DueTimer {
  id: string;
}

/** The runtime's `ConversationStore` plus shard fencing and timer bookkeeping. */
export interface PostgresConversationStore extends ConversationStore {
  /** The same as `load`: the stored conversation with its pending timers, or null. */
  loadConversation(botId: string, userId: string): Promise<StoredConversation | null>;
  /** Takes ownership of a shard: bumps and returns its epoch, fencing out the previous owner. */
  claimShard(shard: number, owner: string): Promise<number>;
  dueTimers(shards: readonly number[], now: number, limit: number): Promise<DueTimerRow[]>;
  /** Marks a pending timer fired; false when it was no longer pending. */
  markTimerFired(id: string): Promise<boolean>;
}

/** Options: `xstateVersion` is recorded with each snapshot (default '5'). */
export interface ConversationStoreOptions {
  xstateVersion?: string;
}

const USER_ID = /^-?\d{1,19}$/;

/** Creates the store over the ORM's `pg` pool (raw SQL; the ORM's unit of work is not involved). */
export function createConversationStore(
  orm: MikroORM,
  options: ConversationStoreOptions = {},
): PostgresConversationStore {
  const xstateVersion = options.xstateVersion ?? '5';
  const pool = () => orm.em.getConnection().getNativeClient();

  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      const result = await (await pool()).query<R>(sql, params);
      return result.rows;
    } catch (error) {
      throw storeError(error);
    }
  }

  const store: PostgresConversationStore = {
    loadConversation: (botId, userId) => store.load(botId, userId),

    async load(botId, userId) {
      checkUserId(userId);
      const rows = await query<LoadRow>(LOAD_SQL, [botId, userId]);
      const row = rows[0];
      if (row === undefined) return null;
      const stored: StoredConversation = {
        botId,
        userId,
        flowId: row.flow_id,
        flowVersion: row.flow_version,
        snapshot: row.snapshot,
        rowVersion: row.row_version,
        timers: row.timers,
      };
      return stored;
    },

    async commitBatch(rows) {
      if (rows.length === 0) return [];
      for (const row of rows) checkUserId(row.userId);
      let client: pg.PoolClient;
      try {
        client = await (await pool()).connect();
      } catch (error) {
        throw storeError(error);
      }
      try {
        await client.query('begin');
        const outcomes = await writeBatch(client, rows, xstateVersion);
        await client.query('commit');
        return outcomes;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw storeError(error);
      } finally {
        client.release();
      }
    },

    async dueTimers(shards, now, limit) {
      if (shards.length === 0 || limit <= 0) return [];
      const rows = await query<TimerRow>(DUE_TIMERS_SQL, [shards, new Date(now).toISOString(), limit]);
      return rows.map((r) => ({
        id: r.id,
        botId: r.bot_id,
        userId: r.user_id,
        timerId: r.timer_id,
        dueAt: r.due_at,
        event: r.event,
      }));
    },

    async markTimerFired(id) {
      const rows = await query(
        `update timers set status = 'fired' where id = $1 and status = 'pending' returning id`,
        [id],
      );
      return rows.length > 0;
    },

    async claimShard(shard, owner) {
      const rows = await query<{ epoch: string }>(
        `insert into shard_epochs (shard, epoch, owner) values ($1, 1, $2)
         on conflict (shard) do update set epoch = shard_epochs.epoch + 1, owner = excluded.owner, claimed_at = now()
         returning epoch`,
        [shard, owner],
      );
      return Number(rows[0]!.epoch);
    },
  };
  return store;
}

interface LoadRow {
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

const LOAD_SQL = `
  select c.flow_id, c.flow_version, c.snapshot, c.row_version,
    coalesce((select jsonb_object_agg(t.timer_id, round(extract(epoch from t.due_at) * 1000))
              from timers t
              where t.bot_id = c.bot_id and t.user_id = c.user_id and t.status = 'pending'), '{}'::jsonb) as timers
  from conversations c where c.bot_id = $1 and c.user_id = $2`;

const DUE_TIMERS_SQL = `
  select id::text, bot_id, user_id::text, timer_id, round(extract(epoch from due_at) * 1000)::float8 as due_at, event
  from timers
  where status = 'pending' and due_at <= $2 and shard = any($1::int[])
  order by due_at, id limit $3`;

/** Writes one batch inside an open transaction; returns one outcome per row, in order. */
async function writeBatch(client: pg.PoolClient, rows: CommitRow[], xstateVersion: string) {
  const outcomes: Array<CommitOutcome | null> = rows.map(() => null);
  const pending = () => rows.flatMap((row, i) => (outcomes[i] === null ? [{ row, i }] : []));

  // A conversation appears at most once per batch (its mailbox waits for the commit); a repeat is a
  // conflict, left for the caller to reload and retry.
  const seen = new Set<string>();
  for (const [i, row] of rows.entries()) {
    const key = `${row.botId}:${row.userId}`;
    if (seen.has(key)) outcomes[i] = 'version_conflict';
    seen.add(key);
  }

  // Fencing: hold the epochs (FOR SHARE) until commit, so a concurrent claim waits for this batch.
  // A shard never claimed has epoch 0.
  const shards = [...new Set(rows.map((r) => r.shard))];
  const epochRows = await client.query<{ shard: number; epoch: string }>(
    'select shard, epoch from shard_epochs where shard = any($1::int[]) for share',
    [shards],
  );
  const epochs = new Map(epochRows.rows.map((r) => [r.shard, Number(r.epoch)]));
  for (const { row, i } of pending()) {
    if ((epochs.get(row.shard) ?? 0) !== row.epoch) outcomes[i] = 'stale_epoch';
  }

  // Idempotency: an input key already processed (earlier, or earlier in this batch) changes nothing.
  const keyed = pending().filter((p) => p.row.inputKey !== null);
  const freshKeys = new Set<string>();
  if (keyed.length > 0) {
    const inserted = await client.query<{ key: string }>(
      'insert into processed_inputs (key) select unnest($1::text[]) on conflict do nothing returning key',
      [keyed.map((p) => p.row.inputKey)],
    );
    for (const r of inserted.rows) freshKeys.add(r.key);
    const claimed = new Set<string>();
    for (const { row, i } of keyed) {
      const key = row.inputKey!;
      if (!freshKeys.has(key) || claimed.has(key)) outcomes[i] = 'duplicate_input';
      claimed.add(key);
    }
  }

  // Snapshots: new conversations insert (if still absent); existing ones update if the version matches.
  const written = new Set<string>();
  const creates = pending().filter((p) => p.row.expectedVersion === 0);
  if (creates.length > 0) {
    const res = await client.query<{ bot_id: string; user_id: string }>(
      `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard, updated_at)
       select t.b, t.u, t.f, t.v, $7, t.s, 1, t.sh, now()
       from unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::jsonb[], $6::int[]) as t(b, u, f, v, s, sh)
       on conflict (bot_id, user_id) do nothing
       returning bot_id, user_id::text`,
      [...snapshotColumns(creates.map((p) => p.row)), xstateVersion],
    );
    for (const r of res.rows) written.add(`${r.bot_id}:${r.user_id}`);
  }
  const updates = pending().filter((p) => p.row.expectedVersion > 0);
  if (updates.length > 0) {
    const res = await client.query<{ bot_id: string; user_id: string }>(
      `update conversations c
       set flow_id = t.f, flow_version = t.v, xstate_version = $8, snapshot = t.s, row_version = t.ev + 1,
           shard = t.sh, updated_at = now()
       from unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::jsonb[], $6::int[], $7::int[])
         as t(b, u, f, v, s, sh, ev)
       where c.bot_id = t.b and c.user_id = t.u and c.row_version = t.ev
       returning c.bot_id, c.user_id::text`,
      [
        ...snapshotColumns(updates.map((p) => p.row)),
        updates.map((p) => p.row.expectedVersion),
        xstateVersion,
      ],
    );
    for (const r of res.rows) written.add(`${r.bot_id}:${r.user_id}`);
  }
  const undoKeys: string[] = [];
  for (const { row, i } of pending()) {
    if (written.has(`${row.botId}:${row.userId}`)) continue;
    outcomes[i] = 'version_conflict';
    if (row.inputKey !== null) undoKeys.push(row.inputKey);
  }
  if (undoKeys.length > 0) {
    await client.query('delete from processed_inputs where key = any($1::text[])', [undoKeys]);
  }

  const ok = pending().map((p) => p.row);
  await writeEffects(client, ok);
  await writeTimers(client, ok);
  return outcomes.map((o) => o ?? 'ok');
}

function snapshotColumns(rows: CommitRow[]): unknown[] {
  return [
    rows.map((r) => r.botId),
    rows.map((r) => r.userId),
    rows.map((r) => r.flowId),
    rows.map((r) => r.flowVersion),
    rows.map((r) => JSON.stringify(r.snapshot)),
    rows.map((r) => r.shard),
  ];
}

async function writeEffects(client: pg.PoolClient, rows: CommitRow[]): Promise<void> {
  const effects = rows.flatMap((r) => r.effects.map((e) => ({ r, e })));
  if (effects.length === 0) return;
  await client.query(
    `insert into effects (bot_id, user_id, idempotency_key, effect)
     select * from unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[])
     on conflict (idempotency_key) do nothing`,
    [
      effects.map((x) => x.r.botId),
      effects.map((x) => x.r.userId),
      effects.map((x) => x.e.key),
      effects.map((x) => JSON.stringify(x.e.effect)),
    ],
  );
}

/** Cancels first, then starts, so a timer cancelled and restarted in one commit ends up pending. */
async function writeTimers(client: pg.PoolClient, rows: CommitRow[]): Promise<void> {
  const cancels = rows.flatMap((r) => r.timersCancelled.map((timerId) => ({ r, timerId })));
  if (cancels.length > 0) {
    await client.query(
      `update timers set status = 'cancelled'
       from unnest($1::text[], $2::bigint[], $3::text[]) as t(b, u, id)
       where timers.bot_id = t.b and timers.user_id = t.u and timers.timer_id = t.id and timers.status = 'pending'`,
      [cancels.map((x) => x.r.botId), cancels.map((x) => x.r.userId), cancels.map((x) => x.timerId)],
    );
  }
  // One start per (conversation, timer id); the last one wins.
  const starts = new Map<string, { r: CommitRow; t: CommitRow['timersStarted'][number] }>();
  for (const r of rows)
    for (const t of r.timersStarted) starts.set(`${r.botId}:${r.userId}:${t.timerId}`, { r, t });
  if (starts.size === 0) return;
  const list = [...starts.values()];
  await client.query(
    `insert into timers (bot_id, user_id, shard, timer_id, due_at, event)
     select * from unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::timestamptz[], $6::jsonb[])
     on conflict (bot_id, user_id, timer_id) where status = 'pending'
     do update set due_at = excluded.due_at, event = excluded.event, shard = excluded.shard`,
    [
      list.map((x) => x.r.botId),
      list.map((x) => x.r.userId),
      list.map((x) => x.r.shard),
      list.map((x) => x.t.timerId),
      list.map((x) => new Date(x.t.dueAt).toISOString()),
      list.map((x) => JSON.stringify(x.t.event)),
    ],
  );
}

function checkUserId(userId: string): void {
  if (!USER_ID.test(userId)) {
    throw new BotflowError('BAD_REQUEST', 'a conversation user id must be a Telegram numeric id');
  }
}

function storeError(error: unknown): BotflowError {
  if (error instanceof BotflowError) return error;
  return new BotflowError('STORE_UNAVAILABLE', 'the conversation store failed', { cause: error });
}
