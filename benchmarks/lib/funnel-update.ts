/**
 * The webhook scenario's updates, shared by the benchmarks that drive it (webhook, sql-per-update),
 * so both measure the same four inputs per user.
 */

/** The k-th update (0-3) of a user: /start, a wrong e-mail, an e-mail, the first offer button. */
export function updateOf(user: number, k: number, button: string, updateId: number): Record<string, unknown> {
  const from = { id: user, is_bot: false, first_name: 'Bench' };
  if (k === 3)
    return {
      update_id: updateId,
      callback_query: { id: `q${user}_${updateId}`, from, chat_instance: 'bench', data: button },
    };
  const text = ['/start', 'not an e-mail', `user${user}@example.com`][k]!;
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1,
      chat: { id: user, type: 'private' },
      from,
      text,
      // As Telegram marks a command (grammY's `command` routes on it).
      ...(k === 0 ? { entities: [{ type: 'bot_command', offset: 0, length: text.length }] } : {}),
    },
  };
}
