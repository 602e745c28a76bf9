/**
 * Presell pages: a tracking link may answer with a small HTML page that fires the Meta Pixel's
 * PageView (deduplicated with the server's) before continuing to Telegram. Columns match ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

/** Adds `tracking_links.presell`. */
export class PresellMigration extends Migration {
  override up(): void {
    this.addSql(`alter table "tracking_links" add column "presell" boolean not null default false`);
  }

  override down(): void {
    this.addSql(`alter table "tracking_links" drop column "presell"`);
  }
}
