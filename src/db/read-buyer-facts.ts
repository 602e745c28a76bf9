/** What a buyer told the bot, read from their committed conversation, for Meta's user_data. */
import type { BuyerFacts } from '../flow/machine-setup.ts';
import type { Sql } from './sql-client.ts';

/** The buyer facts of a conversation's snapshot (its context's `buyer`), or null when none. */
export async function readBuyerFacts(sql: Sql, botId: string, userId: string): Promise<BuyerFacts | null> {
  const rows = await sql<{ buyer: BuyerFacts | null }>(
    `select snapshot->'context'->'buyer' as buyer from conversations where bot_id = $1 and user_id = $2`,
    [botId, userId],
  );
  return rows[0]?.buyer ?? null;
}
