/**
 * One buyer as the console shows them: their conversation (flow, version, current step, pending
 * timers), their orders with the access each gave, and the messages botflow sent them (from the
 * effects outbox, oldest first). Null when the bot never saw the user.
 */
import { getCurrentStep } from '../flow/advance-conversation.ts';
import type { FlowContext } from '../flow/machine-setup.ts';
import type { createSql } from './sql-client.ts';

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const MESSAGE_TYPES = ['send', 'sendCharge', 'notice', 'grantAccess'];

/** Reads buyer `userId` of `botId` (at most the last `messages` messages). */
export async function readBuyer(
  sql: ReturnType<typeof createSql>,
  botId: string,
  userId: string,
  messages = 200,
): Promise<Record<string, unknown> | null> {
  const [c] = await sql<{
    flow_id: string;
    flow_version: number;
    snapshot: { value: unknown; context: FlowContext };
  }>('select flow_id, flow_version, snapshot from conversations where bot_id = $1 and user_id = $2', [
    botId,
    userId,
  ]);
  const [u] = await sql<{ first_seen: Date; tracking_payload: Record<string, unknown> | null }>(
    'select first_seen, tracking_payload from bot_users where bot_id = $1 and user_id = $2',
    [botId, userId],
  );
  if (c === undefined && u === undefined) return null;
  const timers = await sql<{ timer_id: string; due_at: Date }>(
    `select timer_id, due_at from timers where bot_id = $1 and user_id = $2 and status = 'pending' order by due_at`,
    [botId, userId],
  );
  const orders = await sql<Record<string, unknown>>(
    `select p.order_id, p.flow_order, p.flow_step_id, p.status, p.amount_cents, p.description, p.created_at,
       p.paid_at, p.tracking->>'source' as tracking_source, g.status as access, g.granted_at, g.joined_at,
       g.expires_at as access_expires_at
     from payments p left join access_grants g on g.order_id = p.order_id
     where p.bot_id = $1 and p.user_id = $2 order by p.created_at`,
    [botId, userId],
  );
  const sent = await sql<{ effect: Record<string, unknown>; status: string; created_at: Date }>(
    `select effect, status, created_at from (select id, effect, status, created_at from effects
       where bot_id = $1 and user_id = $2 and effect->>'type' = any($3::text[]) order by id desc limit $4) e
     order by id`,
    [botId, userId, MESSAGE_TYPES, messages],
  );
  return {
    bot_id: botId,
    user_id: userId,
    first_seen: iso(u?.first_seen),
    tracking: u?.tracking_payload === null || u === undefined ? null : pickTracking(u.tracking_payload),
    flow_id: c?.flow_id ?? null,
    flow_version: c?.flow_version ?? null,
    current_step: c === undefined ? null : getCurrentStep(c.snapshot.value, c.snapshot.context),
    timers: timers.map((t) => ({ timer_id: t.timer_id, due_at: iso(t.due_at) })),
    orders: orders.map((o) => ({
      order_id: o['order_id'],
      flow_order: o['flow_order'],
      step: o['flow_step_id'],
      status: o['status'],
      amount_cents: o['amount_cents'],
      description: o['description'],
      tracking_source: o['tracking_source'] ?? null,
      created_at: iso(o['created_at']),
      paid_at: iso(o['paid_at']),
      access: o['access'] ?? null,
      granted_at: iso(o['granted_at']),
      joined_at: iso(o['joined_at']),
      access_expires_at: iso(o['access_expires_at']),
    })),
    messages: sent.map((m) => describeEffect(m.effect, m.status, m.created_at)),
  };
}

/** The click facts an operator may see (campaign, link, UTMs; not IPs or cookies). */
function pickTracking(p: Record<string, unknown>): Record<string, unknown> {
  return { slug: p['slug'] ?? null, campaign: p['campaign'] ?? null, utm: p['utm'] ?? null };
}

/** One outbox message as a line: its kind, step, text and delivery status. */
function describeEffect(effect: Record<string, unknown>, status: string, at: Date) {
  const message = effect['message'] as { text?: string } | undefined;
  const text =
    message?.text ??
    (typeof effect['text'] === 'string'
      ? effect['text']
      : effect['type'] === 'sendCharge'
        ? '(PIX charge)'
        : '(access link)');
  return { type: effect['type'], step: effect['step'] ?? null, text, status, created_at: iso(at) };
}
