/**
 * The update types botflow asks Telegram for, by webhook and by long polling alike. Listed explicitly:
 * `chat_member` is only delivered when named, and join requests are how paid access is approved.
 */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'chat_join_request', 'chat_member'] as const;
