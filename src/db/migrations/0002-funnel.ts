/**
 * What the funnel edges need: per-bot Telegram identity, payment gateway and Meta pixel settings;
 * tracking links; payments keyed by a global order id that also remember the flow's own order name;
 * access grants that know their invite link name. Columns match ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

const UP = [
  `alter table "bots" add column "bot_info" jsonb null, add column "gateway" jsonb null, add column "pixel" jsonb null`,

  `create table "tracking_links" ("slug" text not null, "bot_id" text not null, "campaign" text null, "created_at" timestamptz not null default now(), primary key ("slug"))`,
  `create index "tracking_links_bot_id_index" on "tracking_links" ("bot_id")`,

  `alter table "payments" alter column "gateway" drop not null`,
  `alter table "payments" add column "flow_order" text not null default '', add column "flagged" text null`,
  `create index "payments_pending_expires_at_idx" on "payments" ("expires_at") where status = 'pending'`,

  `alter table "access_grants" add column "link_name" text null`,
  `alter table "effects" add column "flow_version" int not null default 0`,
  `create index "access_grants_granted_expires_at_idx" on "access_grants" ("expires_at") where status = 'granted'`,
];

/** Adds the funnel columns and tables. */
export class FunnelMigration extends Migration {
  override up(): void {
    for (const sql of UP) this.addSql(sql);
  }

  override down(): void {
    this.addSql(`drop index if exists "access_grants_granted_expires_at_idx"`);
    this.addSql(`alter table "effects" drop column "flow_version"`);
    this.addSql(`alter table "access_grants" drop column "link_name"`);
    this.addSql(`drop index if exists "payments_pending_expires_at_idx"`);
    this.addSql(`alter table "payments" drop column "flow_order", drop column "flagged"`);
    this.addSql(`drop table if exists "tracking_links"`);
    this.addSql(`alter table "bots" drop column "bot_info", drop column "gateway", drop column "pixel"`);
  }
}
