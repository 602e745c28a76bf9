/**
 * `payments.checked_at`: when reconciliation last asked the gateway about a pending charge, so each is
 * asked at most once a minute (gateways rate-limit lookups) and the least recently asked go first (no
 * charge waits behind others). Matches ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

/** Adds `payments.checked_at`. */
export class PaymentChecksMigration extends Migration {
  override up(): void {
    this.addSql(`alter table "payments" add column "checked_at" timestamptz null`);
  }

  override down(): void {
    this.addSql(`alter table "payments" drop column "checked_at"`);
  }
}
