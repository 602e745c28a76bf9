/**
 * `step_counts`: per flow version, step and UTC day, how many times conversations entered the step,
 * added to by the group commit (one upsert per batch). Matches ../entities.
 */
import { Migration } from '@mikro-orm/migrations';

/** Creates `step_counts`. */
export class StepCountsMigration extends Migration {
  override up(): void {
    this.addSql(
      `create table "step_counts" ("flow_id" text not null, "flow_version" int not null, "step" text not null, "day" date not null, "entered" int not null default 0, primary key ("flow_id", "flow_version", "step", "day"))`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "step_counts"`);
  }
}
