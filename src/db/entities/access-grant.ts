/** Access to a private group granted for a paid order (one per order), possibly expiring. */
import { defineEntity, p } from '@mikro-orm/core';

/** Grant states. */
export type AccessGrantStatus = 'pending' | 'granted' | 'revoked' | 'expired';

/** Table `access_grants`. */
export const AccessGrant = defineEntity({
  name: 'AccessGrant',
  tableName: 'access_grants',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    orderId: p.text().unique(),
    botId: p.text(),
    userId: p.bigint('string'),
    chatId: p.text(),
    inviteLink: p.text().nullable(),
    /** The invite link's name (short, derived from the order), so a join request maps to its grant. */
    linkName: p.text().nullable(),
    status: p.text().$type<AccessGrantStatus>().default('pending'),
    grantedAt: p.datetime().nullable(),
    expiresAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    /** When the buyer joined the chat through the grant's link (a `chat_member` update). */
    joinedAt: p.datetime().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [
    { properties: ['botId', 'userId'] },
    { properties: ['botId', 'inviteLink'] },
    { properties: ['botId', 'linkName'] },
    {
      name: 'access_grants_granted_expires_at_idx',
      expression: `create index "access_grants_granted_expires_at_idx" on "access_grants" ("expires_at") where status = 'granted'`,
    },
  ],
});
