/**
 * One group commit as one statement: a data-modifying CTE over `unnest` arrays (one array per column)
 * that fences shard epochs (each batch shard's row held FOR SHARE until it commits, locked in shard
 * order and probed by key: a scan of all 1024 rows cost a tenth of a millisecond per commit), refuses
 * processed inputs and stale row versions, and writes the snapshots, effects, timers and records of
 * the accepted rows only. Run in autocommit, it is one round trip and one transaction; it returns every
 * row's outcome. A batch runs only the parts it has something for (its variant): each part left out
 * cost Postgres its start-up and a join of the batch, a third of a one-row commit's CPU in all.
 */
import type pg from 'pg';
import { BotflowError } from '../errors.ts';
import type { CommitOutcome, CommitRow, RecordWriter } from '../runtime/ports.ts';
import { conversationKeyOf } from '../runtime/conversation-key.ts';
import { markEffectsDoneSql } from './mark-effects-done.ts';

/** A compiled batch statement: its text and how to bind a batch to it. */
export interface CommitStatement {
  /** The statement with every part: what a batch with effects, timers, done-marks and every record kind runs. */
  text: string;
  /**
   * The parameters of `rows` (each given its index in the batch) and of the effect keys to mark done
   * with them, in the statement's order.
   */
  bind(
    rows: ReadonlyArray<{ i: number; row: CommitRow }>,
    xstateVersion: string,
    doneKeys: readonly string[],
  ): unknown[];
  /**
   * The statement a batch bound by `bind` runs: the parts whose arrays are all empty (no timers, no
   * records of a kind, no done-marks) are left out with their parameters, so Postgres neither starts
   * nor runs them. `key` names the variant (the parts kept), for its prepared statement's name.
   */
  variant(values: readonly unknown[]): { key: string; text: string; values: unknown[] };
}

const ROW_COLUMNS = `$2::int[], $3::text[], $4::bigint[], $5::int[], $6::bigint[], $7::int[], $8::text[], $9::int[], $10::jsonb[], $11::text[]`;
/** The head's parameters: the XState version and the rows' ten arrays. */
const HEAD_PARAMS = 11;

/**
 * The head of the statement, in every variant: the rows (`input`), their checks in order (epoch, input
 * key, row version) into `checked` (each a lateral probe of the primary key: the plan is generic, made
 * once per connection and kept until the tables are analyzed again; made while they were small, an
 * `exists` there became a hashed subplan that read all of `processed_inputs` and `conversations` on
 * every commit, 12 ms of Postgres CPU per commit at 40k processed inputs), the snapshot writes whose
 * returned rows make `done`, and their input keys. The optional parts (`FIXED_PARTS`, then one per
 * record writer) write what `done` rows carry, effects and timers, and the done-marks of effects that
 * ran meanwhile (whatever the rows' outcomes: they ride the round trip). A cancel finds its pending
 * timer by a lateral probe and cancels it by an upsert of its id whose insert never happens (a timer
 * fired meanwhile stays fired), since an `update ... from` lets the generic plan choose its access:
 * made on small tables it walked every pending timer per cancel. Record writers append their parts.
 * The checks read the statement's snapshot: no other transaction writes these conversations or input
 * keys meanwhile, since a shard's one owner commits one batch at a time and a new owner's claim waits
 * for the epoch lock; the snapshot writes still guard the version, and a row they miss writes nothing.
 */
const COMMIT_HEAD = `with
  input as materialized (
    select * from unnest(${ROW_COLUMNS}) as t(i, b, u, sh, ep, ev, f, v, s, k)),
  epochs as materialized (
    select e.shard, e.epoch from (select distinct sh from input order by sh) s
    cross join lateral (select shard, epoch from shard_epochs where shard = s.sh for share) e),
  fenced as materialized (
    select t.*, coalesce(e.epoch, 0) = t.ep as epoch_ok from input t left join epochs e on e.shard = t.sh),
  ranked as materialized (
    select f.*, row_number() over (partition by f.epoch_ok, f.k order by f.i) as k_rank from fenced f),
  checked as materialized (
    select f.*, case
      when not f.epoch_ok then 'stale_epoch'
      when f.k is not null and (f.k_rank > 1 or seen.key is not null) then 'duplicate_input'
      when f.ev = 0 and cur.row_version is not null then 'version_conflict'
      when f.ev > 0 and cur.row_version is distinct from f.ev then 'version_conflict'
      else 'ok' end as outcome
    from ranked f
    left join lateral (select p.key from processed_inputs p where p.key = f.k limit 1) seen on true
    left join lateral (select c.row_version from conversations c
      where c.bot_id = f.b and c.user_id = f.u limit 1) cur on true),
  updated as (
    update conversations c set flow_id = a.f, flow_version = a.v, xstate_version = $1, snapshot = a.s,
      row_version = a.ev + 1, shard = a.sh, updated_at = now()
    from checked a
    where a.outcome = 'ok' and a.ev > 0 and c.bot_id = a.b and c.user_id = a.u and c.row_version = a.ev
    returning a.i),
  created as (
    insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard, updated_at)
    select a.b, a.u, a.f, a.v, $1, a.s, 1, a.sh, now() from checked a where a.outcome = 'ok' and a.ev = 0
    on conflict (bot_id, user_id) do nothing
    returning bot_id, user_id),
  written as (
    select i from updated
    union all
    select a.i from created c join checked a on a.ev = 0 and a.outcome = 'ok' and a.b = c.bot_id and a.u = c.user_id),
  done as materialized (
    select a.* from checked a join written w on w.i = a.i),
  inputs_done as (
    insert into processed_inputs (key) select k from done where k is not null on conflict do nothing)`;

/** A part of the statement after the fixed head, written from the number of its first parameter. */
interface OptionalPart {
  /** How many parameters (arrays) it binds; the first is empty when the part has nothing to write. */
  params: number;
  text(first: number): string;
}

/** The fixed parts that may have nothing to write: effects, timer cancels and starts, done-marks. */
const FIXED_PARTS: readonly OptionalPart[] = [
  {
    params: 4,
    text: (p) => `effects_done as (
    insert into effects (bot_id, user_id, idempotency_key, effect, flow_version)
    select d.b, d.u, x.key, x.effect, coalesce(x.fv, d.v)
    from unnest($${p}::int[], $${p + 1}::text[], $${p + 2}::jsonb[], $${p + 3}::int[]) with ordinality as x(r, key, effect, fv, ord)
    join done d on d.i = x.r order by x.ord
    on conflict (idempotency_key) do nothing)`,
  },
  {
    params: 2,
    text: (p) => `timers_cancelled as (
    insert into timers (id, bot_id, user_id, shard, timer_id, due_at, event, status)
    select q.id, q.bot_id, q.user_id, q.shard, q.timer_id, q.due_at, q.event, 'cancelled'
    from unnest($${p}::int[], $${p + 1}::text[]) as x(r, id) join done d on d.i = x.r
    cross join lateral (select t.id, t.bot_id, t.user_id, t.shard, t.timer_id, t.due_at, t.event from timers t
      where t.bot_id = d.b and t.user_id = d.u and t.timer_id = x.id and t.status = 'pending' limit 1) q
    on conflict (id) do update set status = 'cancelled' where timers.status = 'pending')`,
  },
  {
    params: 4,
    text: (p) => `timers_started as (
    insert into timers (bot_id, user_id, shard, timer_id, due_at, event)
    select d.b, d.u, d.sh, x.id, x.due, x.event
    from unnest($${p}::int[], $${p + 1}::text[], $${p + 2}::timestamptz[], $${p + 3}::jsonb[]) as x(r, id, due, event)
    join done d on d.i = x.r
    on conflict (bot_id, user_id, timer_id) where status = 'pending'
    do update set due_at = excluded.due_at, event = excluded.event, shard = excluded.shard)`,
  },
  {
    params: 1,
    text: (p) => `effects_marked as (
    ${markEffectsDoneSql(`$${p}`)})`,
  },
];

/** Every row's outcome: its check's, or a conflict if its snapshot write found the row changed. */
const COMMIT_TAIL = `
select a.i, case when a.outcome <> 'ok' then a.outcome when w.i is null then 'version_conflict' else 'ok' end as outcome
from checked a left join written w on w.i = a.i`;

/** A record writer as a part of the statement: its CTE, named by the writer's place. */
function writerPart(writer: RecordWriter, w: number): OptionalPart {
  const names = writer.columns.map(([name]) => name);
  return {
    params: 1 + writer.columns.length,
    text(first) {
      const arrays = [
        `$${first}::int[]`,
        ...writer.columns.map(([, type], c) => `$${first + 1 + c}::${type}[]`),
      ];
      const source = `(select d.b as bot_id, d.u as user_id, d.sh as shard, ${names.map((n) => `x.${n}`).join(', ')}, x.ord
        from unnest(${arrays.join(', ')}) with ordinality as x(r, ${names.join(', ')}, ord)
        join done d on d.i = x.r order by x.ord)`;
      return `record_${w} as (${writer.statement(source)})`;
    },
  };
}

/** The statement with the parts `kept` (one flag per optional part), its parameters numbered in order. */
function assemble(parts: readonly OptionalPart[], kept: readonly boolean[]): string {
  let next = HEAD_PARAMS + 1;
  const texts: string[] = [];
  parts.forEach((part, k) => {
    if (!kept[k]) return;
    texts.push(part.text(next));
    next += part.params;
  });
  return `${COMMIT_HEAD}${texts.map((t) => `,\n  ${t}`).join('')}${COMMIT_TAIL}`;
}

/** Builds the one statement of a group commit for a fixed set of record writers. */
export function buildCommitStatement(writers: readonly RecordWriter[]): CommitStatement {
  const kinds = new Set<string>();
  for (const writer of writers) {
    if (kinds.has(writer.kind))
      throw new BotflowError('CONFIG_INVALID', `two record writers for kind ${writer.kind}`);
    kinds.add(writer.kind);
  }
  const parts = [...FIXED_PARTS, ...writers.map(writerPart)];
  /** Where each part's parameters start in the full list (0-based). */
  const offsets: number[] = [];
  let offset = HEAD_PARAMS;
  for (const part of parts) {
    offsets.push(offset);
    offset += part.params;
  }
  const variants = new Map<string, string>();
  return {
    text: assemble(
      parts,
      parts.map(() => true),
    ),
    bind: (rows, xstateVersion, doneKeys) => [
      xstateVersion,
      ...rowParams(rows),
      ...effectParams(rows),
      ...timerParams(rows),
      doneKeys,
      ...writers.flatMap((writer) => writerParams(writer, rows)),
    ],
    variant(values) {
      const kept = parts.map((_, k) => (values[offsets[k]!] as unknown[]).length > 0);
      const key = kept.map((k) => (k ? '1' : '0')).join('');
      let text = variants.get(key);
      if (text === undefined) {
        text = assemble(parts, kept);
        variants.set(key, text);
      }
      const used = values.slice(0, HEAD_PARAMS);
      parts.forEach((part, k) => {
        if (kept[k]) used.push(...values.slice(offsets[k], offsets[k]! + part.params));
      });
      return { key, text, values: used };
    },
  };
}

function rowParams(rows: ReadonlyArray<{ i: number; row: CommitRow }>): unknown[] {
  return [
    rows.map((x) => x.i),
    rows.map((x) => x.row.botId),
    rows.map((x) => x.row.userId),
    rows.map((x) => x.row.shard),
    rows.map((x) => x.row.epoch),
    rows.map((x) => x.row.expectedVersion),
    rows.map((x) => x.row.flowId),
    rows.map((x) => x.row.flowVersion),
    rows.map((x) => JSON.stringify(x.row.snapshot)),
    rows.map((x) => x.row.inputKey),
  ];
}

function effectParams(rows: ReadonlyArray<{ i: number; row: CommitRow }>): unknown[] {
  const effects = rows.flatMap(({ i, row }) => row.effects.map((e) => ({ i, e })));
  return [
    effects.map((x) => x.i),
    effects.map((x) => x.e.key),
    effects.map((x) => JSON.stringify(x.e.effect)),
    effects.map((x) => x.e.flowVersion ?? null),
  ];
}

/**
 * Starts upsert the pending timer (one per timer id and row, the last wins), so a timer cancelled and
 * restarted in one commit stays one pending row; cancels skip the ids the same row starts.
 */
function timerParams(rows: ReadonlyArray<{ i: number; row: CommitRow }>): unknown[] {
  const cancels: Array<{ i: number; id: string }> = [];
  const starts: Array<{ i: number; t: CommitRow['timersStarted'][number] }> = [];
  for (const { i, row } of rows) {
    const started = new Map(row.timersStarted.map((t) => [t.timerId, t]));
    for (const id of new Set(row.timersCancelled)) if (!started.has(id)) cancels.push({ i, id });
    for (const t of started.values()) starts.push({ i, t });
  }
  return [
    cancels.map((x) => x.i),
    cancels.map((x) => x.id),
    starts.map((x) => x.i),
    starts.map((x) => x.t.timerId),
    starts.map((x) => new Date(x.t.dueAt).toISOString()),
    starts.map((x) => JSON.stringify(x.t.event)),
  ];
}

function writerParams(writer: RecordWriter, rows: ReadonlyArray<{ i: number; row: CommitRow }>): unknown[] {
  const owners: number[] = [];
  const columns: unknown[][] = writer.columns.map(() => []);
  for (const { i, row } of rows) {
    const records = (row.records ?? []).filter((r) => r.kind === writer.kind);
    for (const tuple of writer.tuples(row, records)) {
      owners.push(i);
      tuple.forEach((value, c) => columns[c]!.push(value));
    }
  }
  return [owners, ...columns];
}

/**
 * Writes one batch in one statement and returns one outcome per row, in order. A conversation appears
 * at most once per batch (its mailbox waits for the commit); a repeat is a version conflict, left for
 * the caller to reload and retry. The batch runs its variant of the statement (the parts it has
 * nothing for left out); with `name`, as the prepared statement `<name>_<variant key>` on `client`
 * (null: unnamed). `doneKeys` are effects recorded done by the same statement (none by default).
 */
export async function writeCommitBatch(
  client: pg.ClientBase,
  statement: CommitStatement,
  rows: CommitRow[],
  xstateVersion: string,
  name: string | null,
  doneKeys: readonly string[] = [],
): Promise<CommitOutcome[]> {
  const outcomes: CommitOutcome[] = rows.map(() => 'version_conflict');
  const seen = new Set<string>();
  const bound: Array<{ i: number; row: CommitRow }> = [];
  for (const [i, row] of rows.entries()) {
    const key = conversationKeyOf(row.botId, row.userId);
    if (seen.has(key)) continue;
    seen.add(key);
    bound.push({ i, row });
  }
  const variant = statement.variant(statement.bind(bound, xstateVersion, doneKeys));
  const { text, values } = variant;
  const config = name === null ? { text, values } : { name: `${name}_${variant.key}`, text, values };
  const result = await client.query<{ i: number; outcome: CommitOutcome }>(config);
  for (const { i, outcome } of result.rows) outcomes[i] = outcome;
  return outcomes;
}
