/**
 * The statements of one group commit, opening its transaction: fencing (shard epochs held
 * FOR SHARE), input idempotency, version-guarded snapshots, outbox effects and timers, one statement
 * per table per batch with unnest arrays. A refused row writes nothing; the others are written.
 */
import type pg from 'pg';
import type { CommitOutcome, CommitRecord, CommitRow } from '../runtime/ports.ts';

/**
 * Opens the transaction and writes one batch in it (the caller commits or rolls back); returns one
 * outcome per row, in order.
 */
export async function writeCommitBatch(
  client: pg.PoolClient,
  rows: CommitRow[],
  xstateVersion: string,
): Promise<CommitOutcome[]> {
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
  // `begin` and the read in one round trip: a multi-statement simple query takes no parameters, so the
  // shard numbers (integers, checked) are written into it.
  if (!shards.every((s) => Number.isSafeInteger(s))) throw new Error('shard numbers must be integers');
  const results = (await client.query(
    `begin; select shard, epoch from shard_epochs where shard in (${shards.join(',')}) for share`,
  )) as unknown as Array<pg.QueryResult<{ shard: number; epoch: string }>>;
  const epochRows = results[1]!.rows;
  const epochs = new Map(epochRows.map((r) => [r.shard, Number(r.epoch)]));
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
  await writePayments(client, ok);
  await writeRecords(client, ok);
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
    `insert into effects (bot_id, user_id, idempotency_key, effect, flow_version)
     select * from unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::int[])
     on conflict (idempotency_key) do nothing`,
    [
      effects.map((x) => x.r.botId),
      effects.map((x) => x.r.userId),
      effects.map((x) => x.e.key),
      effects.map((x) => JSON.stringify(x.e.effect)),
      effects.map((x) => x.e.flowVersion ?? x.r.flowVersion),
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

/** Each `createCharge` effect opens its payment row, keyed by the effect's key (a global order id). */
async function writePayments(client: pg.PoolClient, rows: CommitRow[]): Promise<void> {
  const charges = rows.flatMap((r) =>
    r.effects.flatMap(({ key, effect }) => (effect.type === 'createCharge' ? [{ r, key, effect }] : [])),
  );
  if (charges.length === 0) return;
  await client.query(
    `insert into payments (order_id, bot_id, user_id, flow_step_id, flow_order, amount_cents, description, expires_at)
     select t.o, t.b, t.u, t.s, t.fo, t.a, t.d, now() + make_interval(mins => t.m)
     from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::int[], $7::text[], $8::int[])
       as t(o, b, u, s, fo, a, d, m)
     on conflict (order_id) do nothing`,
    [
      charges.map((c) => c.key),
      charges.map((c) => c.r.botId),
      charges.map((c) => c.r.userId),
      charges.map((c) => c.effect.step),
      charges.map((c) => c.effect.order),
      charges.map((c) => c.effect.amount_cents),
      charges.map((c) => c.effect.description),
      charges.map((c) => c.effect.expires_in_minutes),
    ],
  );
}

/** Writes the facts that came with committed rows: one statement per kind of record per batch. */
async function writeRecords(client: pg.PoolClient, rows: CommitRow[]): Promise<void> {
  const all = rows.flatMap((row) => (row.records ?? []).map((record) => ({ row, record })));
  if (all.length === 0) return;
  // One binding per conversation and batch (a conversation appears once per batch; the last wins).
  const bindings = new Map<
    string,
    { row: CommitRow; record: Extract<CommitRecord, { kind: 'bindTracking' }> }
  >();
  const statuses: Array<Extract<CommitRecord, { kind: 'paymentStatus' }>> = [];
  const conversions: Array<Extract<CommitRecord, { kind: 'conversion' }> & { botId: string }> = [];
  for (const { row, record } of all) {
    if (record.kind === 'bindTracking') bindings.set(`${row.botId}:${row.userId}`, { row, record });
    else if (record.kind === 'paymentStatus') statuses.push(record);
    else conversions.push({ ...record, botId: row.botId });
  }
  if (bindings.size > 0) {
    const list = [...bindings.values()];
    await client.query(
      `insert into bot_users (bot_id, user_id, tracking_token, tracking_payload, fbclid)
       select * from unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::text[])
       on conflict (bot_id, user_id) do update set last_seen = now(),
         tracking_token = coalesce(excluded.tracking_token, bot_users.tracking_token),
         tracking_payload = coalesce(excluded.tracking_payload, bot_users.tracking_payload),
         fbclid = case when excluded.tracking_token is null then bot_users.fbclid else excluded.fbclid end`,
      [
        list.map((x) => x.row.botId),
        list.map((x) => x.row.userId),
        list.map((x) => x.record.token),
        list.map((x) => (x.record.payload === null ? null : JSON.stringify(x.record.payload))),
        list.map((x) => x.record.fbclid),
      ],
    );
  }
  // Status changes apply in order: a later record for the same order sees the earlier one's result.
  for (const record of statuses) {
    await client.query(
      `update payments set status = $2, paid_at = case when $2 = 'paid' then $3::timestamptz else paid_at end
       where order_id = $1 and (status = 'pending' or ($2 = 'paid' and status <> 'paid'))`,
      [record.orderId, record.status, new Date(record.at).toISOString()],
    );
  }
  if (conversions.length > 0) {
    await client.query(
      `insert into conversion_events (event_id, pixel_id, payload, bot_id)
       select * from unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
       on conflict (event_id) do nothing`,
      [
        conversions.map((c) => c.eventId),
        conversions.map((c) => c.pixelId),
        conversions.map((c) => JSON.stringify(c.payload)),
        conversions.map((c) => c.botId),
      ],
    );
  }
}
