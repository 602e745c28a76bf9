/**
 * The processed-input keys, built only here: each input a conversation may be handed twice (a Telegram
 * update redelivered, a timer fired by two pollers, an effect's outcome, a gateway's status) carries
 * one key, and the commit refuses a key it has already processed.
 */
export const inputKeys = {
  /** A Telegram update of a bot (update ids are per bot). */
  telegram: (botId: string, updateId: number) => `tg:${botId}:${updateId}`,
  /** SQL `like` pattern of every Telegram key: those are pruned after two days, the others kept. */
  telegramLikePattern: 'tg:%',
  /** A durable timer's firing at its due time. */
  timer: (botId: string, userId: string, timerId: string, dueAt: number) =>
    `timer:${botId}:${userId}:${timerId}:${dueAt}`,
  /** The result an effect handed back to its conversation (keyed by the effect's own key). */
  effectDone: (effectKey: string) => `effect:${effectKey}`,
  /** An effect's permanent failure handed back to its conversation. */
  effectFailed: (effectKey: string) => `effect-failed:${effectKey}`,
  /** The end of an order's paid access (run out or refunded: whichever comes first ends it). */
  accessEnded: (orderId: string) => `access-ended:${orderId}`,
  /** A payment's final status as reported by its gateway. */
  payment: (status: 'paid' | 'expired' | 'failed', orderId: string) => `${status}:${orderId}`,
} as const;
