/**
 * What one fault did to the funnel's guarantees, read from the run's database (direct connection)
 * and from what the stand-ins recorded: acknowledged Telegram updates whose input key was never
 * committed, charges, grants and Purchases per order, messages sent more often than their effects
 * call for, effects left pending, and how long the system took to recover.
 */
import type pg from 'pg';
import type { BuyerOutcome } from '../../src/demo/buyer.ts';
import type { Effect } from '../../src/flow/types.ts';
import { renderEffect } from '../../src/telegram/render-effect.ts';
import type { PushedUpdates } from './drive-buyers.ts';
import { type FunnelUnderTest, PIXEL } from './start-cluster.ts';

/** When the system was given back what the fault took (restore, kill, end of hostile input). */
export interface Recovery {
  /** Seconds from the reference moment to the first input committed after it (null: none seen). */
  firstCommitSeconds: number | null;
  /** Seconds from the reference moment until no effect created before it is still pending. */
  drainSeconds: number | null;
}

const at = (ms: number) => ms / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const extra = (counts: Iterable<number>) => [...counts].reduce((n, c) => n + Math.max(0, c - 1), 0);

/** Counts values by key. */
function tally<T>(items: Iterable<T>, key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** Watches the database from `referenceAt` until recovered or `timeoutMs` passed. */
export async function watchRecovery(db: pg.Pool, referenceAt: number, timeoutMs: number): Promise<Recovery> {
  const recovery: Recovery = { firstCommitSeconds: null, drainSeconds: null };
  const deadline = referenceAt + timeoutMs;
  while (Date.now() < deadline && (recovery.firstCommitSeconds === null || recovery.drainSeconds === null)) {
    const seconds = Math.round((Date.now() - referenceAt) / 100) / 10;
    try {
      const { rows } = await db.query<{ committed: boolean; old_pending: string }>(
        `select exists (select 1 from processed_inputs where processed_at > to_timestamp($1)) as committed,
                (select count(*) from effects where status = 'pending' and created_at <= to_timestamp($1))::text as old_pending`,
        [at(referenceAt)],
      );
      if (recovery.firstCommitSeconds === null && rows[0]!.committed) recovery.firstCommitSeconds = seconds;
      if (recovery.drainSeconds === null && rows[0]!.old_pending === '0') recovery.drainSeconds = seconds;
    } catch {
      // The direct connection never goes through the proxies; a blip here only delays the watch.
    }
    await sleep(250);
  }
  return recovery;
}

/**
 * Effects pending for longer than `stuckMs` since the later of their creation and the recovery: call
 * it at least `stuckMs` after the recovery, so every effect older than the cutoff had that long.
 */
export async function countStuck(db: pg.Pool, stuckMs: number) {
  const cutoff = Date.now() - stuckMs;
  const { rows } = await db.query<{ type: string; n: string; attempts: string }>(
    `select effect->>'type' as type, count(*)::text as n, max(attempts)::text as attempts from effects
     where status = 'pending' and created_at < to_timestamp($1) group by 1 order by 1`,
    [at(cutoff)],
  );
  return {
    stuck: rows.reduce((n, r) => n + Number(r.n), 0),
    byType: Object.fromEntries(rows.map((r) => [r.type, Number(r.n)])),
  };
}

/** Waits until no effect and no conversion event is pending, at most `timeoutMs`. */
export async function settle(cluster: FunnelUnderTest, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await cluster.db.query<{ n: string }>(
      `select ((select count(*) from effects where status = 'pending') +
               (select count(*) from conversion_events where status = 'pending'))::text as n`,
    );
    if (rows[0]!.n === '0') return true;
    await sleep(250);
  }
  return false;
}

/** The signature of a message: what a buyer would see as "the same message". */
const signature = (chat: unknown, method: string, params: Record<string, unknown>) =>
  `${String(chat)}\u0000${method}\u0000${String(params['text'] ?? params['caption'] ?? '')}`;

/**
 * Messages sent to a chat more often than the effects in the outbox call for them: each effect row
 * renders to its messages once, so a message seen more often is an effect sent twice.
 */
async function countDuplicateSends(
  cluster: FunnelUnderTest,
): Promise<{ count: number; most: number; samples: string[] }> {
  const { rows } = await cluster.db.query<{ user_id: string; effect: Effect; flow_version: number | null }>(
    `select user_id::text, effect, flow_version from effects where bot_id = $1`,
    [cluster.bot.id],
  );
  const expected = new Map<string, number>();
  for (const row of rows) {
    const calls = renderEffect(row.effect, {
      chatId: Number(row.user_id),
      flowVersion: row.flow_version ?? 1,
    });
    for (const call of calls) {
      const key = signature(row.user_id, call.method, call.params);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
  }
  const sent = tally(
    cluster.fake
      .callsOf(cluster.bot.token)
      .filter((c) => c.method.startsWith('send') && c.status === 200 && Number(c.params['chat_id']) > 0),
    (c) => signature(c.params['chat_id'], c.method, c.params),
  );
  let count = 0;
  let most = 0;
  const samples: string[] = [];
  for (const [key, n] of sent) {
    const surplus = n - Math.max(1, expected.get(key) ?? 0);
    if (surplus <= 0) continue;
    count += surplus;
    // Identical effects (a re-asked question) share a signature: spread the surplus over them.
    most = Math.max(most, Math.ceil(surplus / Math.max(1, expected.get(key) ?? 0)));
    const [chat, method, text] = key.split('\u0000');
    samples.push(`${method} to ${chat} x${n} (${expected.get(key) ?? 0} effects): ${text!.slice(0, 40)}`);
  }
  return { count, most, samples: samples.slice(0, 5) };
}

/**
 * Orders granted more than once: distinct invite links a buyer was sent beyond their grants (the
 * database keeps one grant per order, so a second grant shows as a second link the buyer received).
 */
function countDuplicateGrants(cluster: FunnelUnderTest, grantsByUser: Map<string, number>): number {
  const links = new Map<string, Set<string>>();
  for (const call of cluster.fake.callsOf(cluster.bot.token, 'sendMessage')) {
    if (call.status !== 200) continue;
    const chat = String(call.params['chat_id']);
    for (const link of String(call.params['text'] ?? '').match(/https:\/\/t\.me\/\+[A-Za-z0-9_-]+/g) ?? [])
      links.set(chat, (links.get(chat) ?? new Set()).add(link));
  }
  let duplicates = 0;
  for (const [chat, sent] of links) duplicates += Math.max(0, sent.size - (grantsByUser.get(chat) ?? 0));
  return duplicates;
}

/** Telegram updates answered 2xx (by the fake's webhook deliveries and the suite's own posts). */
function acknowledgedUpdates(cluster: FunnelUnderTest, direct: Map<number, number[]>): Set<number> {
  const ids = new Set<number>();
  for (const d of cluster.fake.deliveries)
    if (d.token === cluster.bot.token && typeof d.status === 'number' && d.status < 300) ids.add(d.update_id);
  for (const [id, statuses] of direct) if (statuses.some((s) => s >= 200 && s < 300)) ids.add(id);
  return ids;
}

/** Acknowledged updates that had to commit their input key (checked), and those whose key is not in processed_inputs. */
async function countNotCommitted(cluster: FunnelUnderTest, acknowledged: Set<number>, pushed: PushedUpdates) {
  const keys = [...acknowledged]
    .filter((id) => pushed.get(id)?.mustCommit === true)
    .map((id) => `tg:${cluster.bot.id}:${id}`);
  const { rows } = await cluster.db.query<{ key: string }>(
    `select key from processed_inputs where key = any($1::text[])`,
    [keys],
  );
  const committed = new Set(rows.map((r) => r.key));
  return { checked: keys.length, missing: keys.filter((k) => !committed.has(k)) };
}

/** Purchase events per order: at the fake Graph API and in the conversions outbox. */
async function purchasesByOrder(cluster: FunnelUnderTest) {
  const atMeta = tally(
    (cluster.graph.events.get(PIXEL.pixel_id) ?? []).filter((e) => e['event_name'] === 'Purchase'),
    (e) => String((e['custom_data'] as Record<string, unknown> | undefined)?.['order_id'] ?? ''),
  );
  const { rows } = await cluster.db.query<{ order_id: string; n: string }>(
    `select payload->'custom_data'->>'order_id' as order_id, count(*)::text as n from conversion_events
     where payload->>'event_name' = 'Purchase' group by 1`,
  );
  const inOutbox = new Map(rows.map((r) => [r.order_id, Number(r.n)]));
  return { atMeta, inOutbox };
}

/** The guarantees of one run, measured. */
export async function measureGuarantees(
  cluster: FunnelUnderTest,
  input: { pushed: PushedUpdates; direct: Map<number, number[]>; outcomes: BuyerOutcome[] },
) {
  const acknowledged = acknowledgedUpdates(cluster, input.direct);
  const notCommitted = await countNotCommitted(cluster, acknowledged, input.pushed);
  const charges = tally(cluster.sandbox.charges.values(), (c) => c.order_id);
  const { rows: payments } = await cluster.db.query<{
    order_id: string;
    status: string;
    charge: string | null;
  }>(`select order_id, status, gateway_charge_id as charge from payments where bot_id = $1`, [
    cluster.bot.id,
  ]);
  const { rows: grants } = await cluster.db.query<{ order_id: string; user_id: string }>(
    `select order_id, user_id::text from access_grants where bot_id = $1`,
    [cluster.bot.id],
  );
  const { rows: effects } = await cluster.db.query<{ status: string; n: string }>(
    `select status, count(*)::text as n from effects group by 1`,
  );
  const purchases = await purchasesByOrder(cluster);
  const paid = payments.filter((p) => p.status === 'paid');
  const granted = new Set(grants.map((g) => g.order_id));
  const falsePaid = paid.filter(
    (p) => p.charge === null || cluster.sandbox.charges.get(p.charge)?.status !== 'paid',
  );
  const errors = input.outcomes.filter((o) => o.error !== null);
  const sends = await countDuplicateSends(cluster);
  return {
    buyers: input.outcomes.length,
    buyer_errors: errors.length,
    acknowledged: acknowledged.size,
    acknowledged_must_commit: notCommitted.checked,
    acknowledged_not_committed: notCommitted.missing.length,
    duplicate_charges: extra(charges.values()),
    duplicate_grants: countDuplicateGrants(
      cluster,
      tally(grants, (g) => g.user_id),
    ),
    duplicate_purchases: Math.max(extra(purchases.atMeta.values()), extra(purchases.inOutbox.values())),
    duplicate_sends: sends.count,
    max_resends_per_message: sends.most,
    paid: paid.length,
    paid_without_access: paid.filter((p) => !granted.has(p.order_id)).length,
    paid_without_purchase: paid.filter((p) => (purchases.atMeta.get(p.order_id) ?? 0) === 0).length,
    paid_not_paid_at_gateway: falsePaid.length,
    dead_effects: Number(effects.find((e) => e.status === 'dead')?.n ?? 0),
    samples: {
      not_committed: notCommitted.missing.slice(0, 5),
      buyer_errors: errors.slice(0, 5).map((o) => `${o.persona} ${o.userId}: ${o.error}`),
      duplicate_sends: sends.samples,
    },
  };
}

export type Guarantees = Awaited<ReturnType<typeof measureGuarantees>>;

/** The guarantees every fault scenario keeps, broken ones in words (none lost, doubled, stuck or dead). */
export function brokenGuarantees(r: Partial<Guarantees> & { stuck_effects: number }): string[] {
  const failures: string[] = [];
  const check = (bad: boolean, what: string) => bad && failures.push(what);
  check(
    (r.acknowledged_not_committed ?? 0) > 0,
    `${r.acknowledged_not_committed} acknowledged updates not committed`,
  );
  check((r.duplicate_charges ?? 0) > 0, `${r.duplicate_charges} duplicate charges`);
  check((r.duplicate_grants ?? 0) > 0, `${r.duplicate_grants} duplicate grants`);
  check((r.duplicate_purchases ?? 0) > 0, `${r.duplicate_purchases} duplicate Purchase events`);
  check(r.stuck_effects > 0, `${r.stuck_effects} effects stuck pending`);
  check((r.dead_effects ?? 0) > 0, `${r.dead_effects} effects given up (dead)`);
  check((r.paid_without_access ?? 0) > 0, `${r.paid_without_access} paid orders without access`);
  check((r.paid_without_purchase ?? 0) > 0, `${r.paid_without_purchase} paid orders without a Purchase`);
  return failures;
}

/** The pid in a shard owner's name (`worker-<slot>-<pid>`, or any name ending in the pid). */
export function ownerPid(owner: string): number | null {
  const match = /(\d+)$/.exec(owner);
  return match === null ? null : Number(match[1]);
}

/** The shards owned by a process among `pids`, by the shard epochs in Postgres. */
export async function shardsOwnedBy(db: pg.Pool, pids: readonly number[]): Promise<number[]> {
  const { rows } = await db.query<{ shard: number; owner: string }>(`select shard, owner from shard_epochs`);
  return rows.filter((r) => pids.includes(ownerPid(r.owner) ?? -1)).map((r) => r.shard);
}

/** Shards per host: how many shard epoch rows name a process of each host (by its pids). */
export async function shardsByHost(db: pg.Pool, pidsByHost: readonly number[][]): Promise<number[]> {
  const { rows } = await db.query<{ owner: string; n: string }>(
    `select owner, count(*)::text as n from shard_epochs group by 1`,
  );
  return pidsByHost.map((pids) =>
    rows.filter((r) => pids.includes(ownerPid(r.owner) ?? -1)).reduce((n, r) => n + Number(r.n), 0),
  );
}

/** What became of a dead host's shards. */
export interface Failover {
  /** Seconds from the kill to the last of its shards claimed (a new epoch) by a live process; null if not all were. */
  seconds: number | null;
  /** Its shards that a live process claimed after the kill. */
  moved: number;
  /** Its shards still not claimed by a live process when the watch ended. */
  unmoved: number;
}

/**
 * Watches the shard epochs in Postgres from a kill (`killedAt`, epoch ms) until every shard in
 * `shards` was claimed after it by a process in `livePids()`, at most `timeoutMs`: the evidence that
 * the dead host's shards are fenced off it and served elsewhere (a claim bumps the epoch, and only
 * the claimant's commits pass the fence from then on).
 */
export async function watchFailover(
  db: pg.Pool,
  shards: readonly number[],
  killedAt: number,
  livePids: () => number[],
  timeoutMs: number,
): Promise<Failover> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ owner: string; claimed: number }>(
      `select owner, extract(epoch from claimed_at)::float8 * 1000 as claimed from shard_epochs where shard = any($1::int[])`,
      [shards],
    );
    const live = livePids();
    const moved = rows.filter((r) => r.claimed >= killedAt && live.includes(ownerPid(r.owner) ?? -1));
    const unmoved = shards.length - moved.length;
    if (unmoved === 0 || Date.now() > deadline) {
      const last = Math.max(killedAt, ...moved.map((r) => r.claimed));
      const seconds = unmoved === 0 ? Math.round((last - killedAt) / 10) / 100 : null;
      return { seconds, moved: moved.length, unmoved };
    }
    await sleep(100);
  }
}

/**
 * Updates committed per second: from `startedAt` (epoch ms, the first post) to the last of `keys`
 * committed in processed_inputs, once all are (or `timeoutMs` passed: then over those committed).
 */
export async function commitRate(db: pg.Pool, keys: readonly string[], startedAt: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ n: string; last: number | null }>(
      `select count(*)::text as n, extract(epoch from max(processed_at))::float8 * 1000 as last
       from processed_inputs where key = any($1::text[])`,
      [keys],
    );
    const committed = Number(rows[0]!.n);
    if (committed === keys.length || Date.now() > deadline) {
      const seconds = Math.max(0.001, ((rows[0]!.last ?? startedAt) - startedAt) / 1000);
      return {
        committed,
        seconds: Math.round(seconds * 1000) / 1000,
        per_second: Math.round((committed / seconds) * 10) / 10,
      };
    }
    await sleep(100);
  }
}
