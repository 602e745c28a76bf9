/**
 * Reads buyers' tracking bindings from `bot_users` for click resolution; the reads of one tick share
 * one statement.
 */
import { batchReads } from './batch-reads.ts';
import type { Sql } from './sql-client.ts';
import { conversationKeyOf } from '../runtime/conversation-key.ts';
import type { TrackingBinding } from '../tracking/remember-bindings.ts';

/** A batched reader of bindings: null for a buyer without a `bot_users` row. */
export function createBindingReader(
  sql: Sql,
): (botId: string, userId: string) => Promise<TrackingBinding | null> {
  const read = batchReads<{ botId: string; userId: string }, TrackingBinding>(async (keys) => {
    const rows = await sql<TrackingBinding & { bot_id: string; user_id: string }>(
      `select b.bot_id, b.user_id::text, b.tracking_token, b.tracking_payload, b.fbclid
       from unnest($1::text[], $2::bigint[]) as k(b, u) join bot_users b on b.bot_id = k.b and b.user_id = k.u`,
      [keys.map((k) => k.botId), keys.map((k) => k.userId)],
    );
    const byKey = new Map(rows.map((r) => [conversationKeyOf(r.bot_id, r.user_id), r]));
    return keys.map((k) => byKey.get(conversationKeyOf(k.botId, k.userId)) ?? null);
  });
  return (botId, userId) => read({ botId, userId });
}
