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
    createdAt: p.datetime().defaultRaw('now()'),
  },
});
