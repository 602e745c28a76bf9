/**
 * Access lookups: join requests and `chat_member` updates find their grant by invite link or link
 * name, once per update, so both get an index; `joined_at` records when the buyer actually joined.
 * Columns and indexes match ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

/** Adds the invite-link and link-name indexes and `access_grants.joined_at`. */
export class AccessLookupsMigration extends Migration {
  override up(): void {
    this.addSql(`alter table "access_grants" add column "joined_at" timestamptz null`);
    this.addSql(
      `create index "access_grants_bot_id_invite_link_index" on "access_grants" ("bot_id", "invite_link")`,
    );
    this.addSql(
      `create index "access_grants_bot_id_link_name_index" on "access_grants" ("bot_id", "link_name")`,
    );
  }

  override down(): void {
    this.addSql(`drop index if exists "access_grants_bot_id_link_name_index"`);
    this.addSql(`drop index if exists "access_grants_bot_id_invite_link_index"`);
    this.addSql(`alter table "access_grants" drop column "joined_at"`);
  }
}
