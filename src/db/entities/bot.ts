/** A Telegram bot botflow runs. `token` holds the bot token (ciphertext when encryption is configured). */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `bots`. */
export const Bot = defineEntity({
  name: 'Bot',
  tableName: 'bots',
  properties: {
    id: p.text().primary(),
    username: p.text().unique(),
    token: p.text(),
    webhookSecret: p.text(),
    /** getMe's answer, stored so a start needs no getMe per bot. */
    botInfo: p.json<Record<string, unknown>>().nullable(),
    /** Payment gateway kind and credentials. */
    gateway: p.json<Record<string, unknown>>().nullable(),
    /** Meta pixel id, access token and optional test event code. */
    pixel: p.json<Record<string, unknown>>().nullable(),
    /** Invite links ask to join (approved for the buyer only); false: `member_limit: 1` links instead. */
    joinRequests: p.boolean().default(true),
    createdAt: p.datetime().defaultRaw('now()'),
  },
});
