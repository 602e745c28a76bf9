/**
 * Access grants, one per paid order: the invite link issued for it (named so a join request maps
 * back to its grant), when it expires, and whether the member was removed. Every write is
 * idempotent per order, so a retried effect never issues a second grant.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { createSql } from './sql-client.ts';

/** A grant row. */
export interface AccessGrantRecord {
  id: string;
  orderId: string;
  botId: string;
  userId: string;
  chatId: string;
  inviteLink: string | null;
  linkName: string | null;
  status: 'pending' | 'granted' | 'revoked' | 'expired';
  expiresAt: number | null;
  /** When the buyer joined through the link (ms), if a `chat_member` update said so. */
  joinedAt: number | null;
}

/** The access grant repository. */
export interface AccessRepository {
  /** Creates the order's grant if absent; returns the stored one either way. */
  open(grant: {
    orderId: string;
    botId: string;
    userId: string;
    chatId: string;
    linkName: string;
    expiresAt: number | null;
  }): Promise<AccessGrantRecord>;
  /** Records the issued link and marks the grant granted. */
  setLink(orderId: string, inviteLink: string): Promise<void>;
  findByOrder(orderId: string): Promise<AccessGrantRecord | null>;
  findByLinkName(botId: string, linkName: string): Promise<AccessGrantRecord | null>;
  findByLink(botId: string, inviteLink: string): Promise<AccessGrantRecord | null>;
  /** Grants still open whose payment was refunded (their removal failed or has not run yet). */
  refundedStillOpen(limit: number): Promise<AccessGrantRecord[]>;
  /** Granted access past its expiry. */
  due(now: number, limit: number): Promise<AccessGrantRecord[]>;
  markExpired(orderId: string): Promise<void>;
  /** Ends a grant that is no longer paid for (refund); an issued link must not work again. True when
   * this call ended it (concurrent revocations: exactly one sees true). */
  markRevoked(orderId: string): Promise<boolean>;
  /** Records that the buyer joined through the grant's link (the first time only). */
  markJoined(orderId: string): Promise<void>;
  countGranted(botId?: string): Promise<number>;
}

interface Row {
  id: string;
  order_id: string;
  bot_id: string;
  user_id: string;
  chat_id: string;
  invite_link: string | null;
  link_name: string | null;
  status: AccessGrantRecord['status'];
  expires_at: Date | null;
  joined_at: Date | null;
}
const COLUMNS =
  'id::text, order_id, bot_id, user_id::text, chat_id, invite_link, link_name, status, expires_at, joined_at';
const toRecord = (r: Row): AccessGrantRecord => ({
  id: r.id,
  orderId: r.order_id,
  botId: r.bot_id,
  userId: r.user_id,
  chatId: r.chat_id,
  inviteLink: r.invite_link,
  linkName: r.link_name,
  status: r.status,
  expiresAt: r.expires_at === null ? null : new Date(r.expires_at).getTime(),
  joinedAt: r.joined_at === null ? null : new Date(r.joined_at).getTime(),
});

/** Creates the repository over the ORM's pool. */
export function createAccessRepository(orm: MikroORM): AccessRepository {
  const sql = createSql(orm);
  return {
    async open(g) {
      await sql(
        `insert into access_grants (order_id, bot_id, user_id, chat_id, link_name, expires_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (order_id) do nothing`,
        [
          g.orderId,
          g.botId,
          g.userId,
          g.chatId,
          g.linkName,
          g.expiresAt === null ? null : new Date(g.expiresAt).toISOString(),
        ],
      );
      const rows = await sql<Row>(`select ${COLUMNS} from access_grants where order_id = $1`, [g.orderId]);
      return toRecord(rows[0]!);
    },
    async setLink(orderId, inviteLink) {
      await sql(
        `update access_grants set invite_link = $2, status = 'granted', granted_at = now()
         where order_id = $1 and status = 'pending'`,
        [orderId, inviteLink],
      );
    },
    async findByOrder(orderId) {
      const rows = await sql<Row>(`select ${COLUMNS} from access_grants where order_id = $1`, [orderId]);
      return rows[0] === undefined ? null : toRecord(rows[0]);
    },
    async findByLinkName(botId, linkName) {
      const rows = await sql<Row>(
        `select ${COLUMNS} from access_grants where bot_id = $1 and link_name = $2`,
        [botId, linkName],
      );
      return rows[0] === undefined ? null : toRecord(rows[0]);
    },
    async findByLink(botId, inviteLink) {
      const rows = await sql<Row>(
        `select ${COLUMNS} from access_grants where bot_id = $1 and invite_link = $2`,
        [botId, inviteLink],
      );
      return rows[0] === undefined ? null : toRecord(rows[0]);
    },
    async refundedStillOpen(limit) {
      const rows = await sql<Row>(
        `select ${COLUMNS} from access_grants
         where status in ('pending', 'granted')
           and order_id in (select order_id from payments where status = 'refunded')
         order by id limit $1`,
        [limit],
      );
      return rows.map(toRecord);
    },
    async due(now, limit) {
      const rows = await sql<Row>(
        `select ${COLUMNS} from access_grants where status = 'granted' and expires_at <= $1
         order by expires_at limit $2`,
        [new Date(now).toISOString(), limit],
      );
      return rows.map(toRecord);
    },
    async markExpired(orderId) {
      await sql(
        `update access_grants set status = 'expired', revoked_at = now() where order_id = $1 and status = 'granted'`,
        [orderId],
      );
    },
    async markJoined(orderId) {
      await sql('update access_grants set joined_at = coalesce(joined_at, now()) where order_id = $1', [
        orderId,
      ]);
    },
    async markRevoked(orderId) {
      const rows = await sql(
        `update access_grants set status = 'revoked', revoked_at = now()
         where order_id = $1 and status in ('pending', 'granted') returning order_id`,
        [orderId],
      );
      return rows.length > 0;
    },
    async countGranted(botId) {
      const rows = await sql<{ n: string }>(
        `select count(*)::text as n from access_grants where status in ('granted', 'expired')
           and ($1::text is null or bot_id = $1)`,
        [botId ?? null],
      );
      return Number(rows[0]!.n);
    },
  };
}
