/** A Telegram user as one bot knows them, with the tracking binding made by `/start <token>`. */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `bot_users`, keyed by (bot_id, user_id). `fbclid` is unbounded text: it is stored whole. */
export const BotUser = defineEntity({
  name: 'BotUser',
  tableName: 'bot_users',
  properties: {
    botId: p.text().primary(),
    userId: p.bigint('string').primary(),
    trackingToken: p.text().nullable(),
    trackingPayload: p.json<Record<string, unknown>>().nullable(),
    fbclid: p.text().nullable(),
    firstSeen: p.datetime().defaultRaw('now()'),
    lastSeen: p.datetime().defaultRaw('now()'),
  },
});
