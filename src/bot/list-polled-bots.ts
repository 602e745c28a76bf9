/**
 * The bots long polling fetches updates for: every registered bot with its token (a bot removed
 * between the listing and the read of its secrets is left out).
 */
import type { BotRepository } from '../db/bot-repository.ts';

/** Lists the registered bots with their tokens. */
export async function listPolledBots(
  bots: Pick<BotRepository, 'list' | 'secrets'>,
): Promise<Array<{ id: string; token: string }>> {
  const found: Array<{ id: string; token: string }> = [];
  for (const bot of await bots.list()) {
    const secrets = await bots.secrets(bot.id);
    if (secrets !== null) found.push({ id: bot.id, token: secrets.token });
  }
  return found;
}
