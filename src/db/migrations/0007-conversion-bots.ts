/**
 * `conversion_events.bot_id`: the bot whose conversation or click produced the event, so it is sent
 * with that bot's Meta credentials even when several bots share a pixel id. Rows written before this
 * migration keep it null (the sender then looks the pixel up as before). Matches ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

/** Adds `conversion_events.bot_id`. */
export class ConversionBotsMigration extends Migration {
  override up(): void {
    this.addSql(`alter table "conversion_events" add column "bot_id" text null`);
  }

  override down(): void {
    this.addSql(`alter table "conversion_events" drop column "bot_id"`);
  }
}
