/**
 * The `botInfo` a baseline bot of the webhook benchmark starts with (as botflow does, from what it
 * stored): no `getMe` call reaches the fake Bot API, so every call it counts is an update's.
 */
import type { UserFromGetMe } from 'grammy/types';

/** The bot `username` with the id of `token` (the digits before its colon). */
export function benchBotInfo(token: string, username: string): UserFromGetMe {
  return {
    id: Number(token.split(':')[0]),
    is_bot: true,
    first_name: 'Bench',
    username,
    can_join_groups: false,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
  } as UserFromGetMe;
}
