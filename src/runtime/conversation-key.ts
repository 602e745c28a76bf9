/**
 * The in-memory key of a conversation (one bot, one user), for maps of actors and per-conversation
 * chains; built only here, and never split back (holders keep the bot and user they came from).
 */
export function conversationKeyOf(botId: string, userId: string): string {
  return `${botId}:${userId}`;
}
