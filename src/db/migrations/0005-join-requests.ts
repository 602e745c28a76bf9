/**
 * `bots.join_requests`: whether a paid order's invite link asks to join (approved for the buyer only)
 * or is a `member_limit: 1` link, for groups where join requests are off. Matches ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

/** Adds `bots.join_requests` (default true: join-request links, as before). */
export class JoinRequestsMigration extends Migration {
  override up(): void {
    this.addSql(`alter table "bots" add column "join_requests" boolean not null default true`);
  }

  override down(): void {
    this.addSql(`alter table "bots" drop column "join_requests"`);
  }
}
