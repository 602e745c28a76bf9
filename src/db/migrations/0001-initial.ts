/**
 * The initial schema: every table of botflow's system of record. Columns match the entities in
 * ../entities (a test checks the ORM sees no difference); partial indexes keep the pending-work scans
 * (timers, outboxes) small, and a trigger keeps published flow versions immutable.
 */
import { Migration } from '@mikro-orm/migrations';

const UP = [
  `create table "bots" ("id" text not null, "username" text not null, "token" text not null, "webhook_secret" text not null, "created_at" timestamptz not null default now(), primary key ("id"))`,
  `alter table "bots" add constraint "bots_username_unique" unique ("username")`,

  `create table "flows" ("id" text not null, "bot_id" text not null, "name" text not null, "draft" jsonb not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), primary key ("id"))`,
  `create index "flows_bot_id_index" on "flows" ("bot_id")`,

  `create table "flow_versions" ("flow_id" text not null, "version" int not null, "definition" jsonb not null, "compiled_hash" text not null, "published_at" timestamptz not null default now(), primary key ("flow_id", "version"))`,
  `create or replace function "flow_versions_flow_versions_immutable_fn"() returns trigger as $$ begin raise exception 'flow_versions rows are immutable' using errcode = 'restrict_violation'; end; $$ language plpgsql`,
  `create trigger "flow_versions_immutable" BEFORE UPDATE on "flow_versions" for each ROW execute function "flow_versions_flow_versions_immutable_fn"()`,

  `create table "bot_users" ("bot_id" text not null, "user_id" bigint not null, "tracking_token" text null, "tracking_payload" jsonb null, "fbclid" text null, "first_seen" timestamptz not null default now(), "last_seen" timestamptz not null default now(), primary key ("bot_id", "user_id"))`,

  `create table "conversations" ("bot_id" text not null, "user_id" bigint not null, "flow_id" text not null, "flow_version" int not null, "xstate_version" text not null, "snapshot" jsonb not null, "row_version" int not null, "shard" int not null, "updated_at" timestamptz not null default now(), primary key ("bot_id", "user_id"))`,
  `create index "conversations_shard_index" on "conversations" ("shard")`,

  `create table "timers" ("id" bigserial primary key, "bot_id" text not null, "user_id" bigint not null, "shard" int not null, "timer_id" text not null, "due_at" timestamptz not null, "event" jsonb not null, "status" text not null default 'pending', "created_at" timestamptz not null default now())`,
  `create index "timers_pending_due_at_idx" on "timers" ("due_at") where status = 'pending'`,
  `create unique index "timers_pending_unique" on "timers" ("bot_id", "user_id", "timer_id") where status = 'pending'`,

  `create table "effects" ("id" bigserial primary key, "bot_id" text not null, "user_id" bigint not null, "idempotency_key" text not null, "effect" jsonb not null, "status" text not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null default now(), "last_error" text null, "created_at" timestamptz not null default now())`,
  `alter table "effects" add constraint "effects_idempotency_key_unique" unique ("idempotency_key")`,
  `create index "effects_pending_next_attempt_idx" on "effects" ("next_attempt_at") where status = 'pending'`,

  `create table "processed_inputs" ("key" text not null, "processed_at" timestamptz not null default now(), primary key ("key"))`,
  `create index "processed_inputs_processed_at_index" on "processed_inputs" ("processed_at")`,

  `create table "shard_epochs" ("shard" int not null, "epoch" bigint not null, "owner" text not null, "claimed_at" timestamptz not null default now(), primary key ("shard"))`,

  `create table "payments" ("id" bigserial primary key, "order_id" text not null, "bot_id" text not null, "user_id" bigint not null, "flow_step_id" text not null, "amount_cents" int not null, "currency" text not null default 'BRL', "description" text not null, "gateway" text not null, "gateway_charge_id" text null, "br_code" text null, "status" text not null default 'pending', "tracking" jsonb null, "expires_at" timestamptz null, "paid_at" timestamptz null, "created_at" timestamptz not null default now())`,
  `alter table "payments" add constraint "payments_order_id_unique" unique ("order_id")`,
  `create index "payments_bot_id_user_id_index" on "payments" ("bot_id", "user_id")`,
  `alter table "payments" add constraint "payments_gateway_gateway_charge_id_unique" unique ("gateway", "gateway_charge_id")`,

  `create table "access_grants" ("id" bigserial primary key, "order_id" text not null, "bot_id" text not null, "user_id" bigint not null, "chat_id" text not null, "invite_link" text null, "status" text not null default 'pending', "granted_at" timestamptz null, "expires_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null default now())`,
  `alter table "access_grants" add constraint "access_grants_order_id_unique" unique ("order_id")`,
  `create index "access_grants_bot_id_user_id_index" on "access_grants" ("bot_id", "user_id")`,

  `create table "conversion_events" ("id" bigserial primary key, "event_id" text not null, "pixel_id" text not null, "payload" jsonb not null, "status" text not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null default now(), "last_error" text null, "created_at" timestamptz not null default now(), "sent_at" timestamptz null)`,
  `alter table "conversion_events" add constraint "conversion_events_event_id_unique" unique ("event_id")`,
  `create index "conversion_events_pending_next_attempt_idx" on "conversion_events" ("next_attempt_at") where status = 'pending'`,
];

const TABLES = [
  'conversion_events',
  'access_grants',
  'payments',
  'shard_epochs',
  'processed_inputs',
  'effects',
  'timers',
  'conversations',
  'bot_users',
  'flow_versions',
  'flows',
  'bots',
];

/** Creates every table, index and trigger of the initial schema. */
export class InitialMigration extends Migration {
  override up(): void {
    for (const sql of UP) this.addSql(sql);
  }

  override down(): void {
    for (const table of TABLES) this.addSql(`drop table if exists "${table}"`);
    this.addSql(`drop function if exists "flow_versions_flow_versions_immutable_fn"()`);
  }
}
