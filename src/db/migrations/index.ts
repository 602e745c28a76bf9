/**
 * Every migration in order, registered explicitly through `migrations.migrationsList` (no file
 * globbing, so they run from TypeScript source under Node's type stripping). Append; never rename.
 */
import type { MigrationObject } from '@mikro-orm/core';
import { InitialMigration } from './0001-initial.ts';
import { FunnelMigration } from './0002-funnel.ts';
import { PresellMigration } from './0003-presell.ts';
import { AccessLookupsMigration } from './0004-access-lookups.ts';
import { JoinRequestsMigration } from './0005-join-requests.ts';
import { PaymentChecksMigration } from './0006-payment-checks.ts';
import { ConversionBotsMigration } from './0007-conversion-bots.ts';
import { StepCountsMigration } from './0008-step-counts.ts';

/** The ordered migration list. Names are stored in `mikro_orm_migrations`: never change one. */
export const MIGRATIONS: MigrationObject[] = [
  { name: '0001-initial', class: InitialMigration },
  { name: '0002-funnel', class: FunnelMigration },
  { name: '0003-presell', class: PresellMigration },
  { name: '0004-access-lookups', class: AccessLookupsMigration },
  { name: '0005-join-requests', class: JoinRequestsMigration },
  { name: '0006-payment-checks', class: PaymentChecksMigration },
  { name: '0007-conversion-bots', class: ConversionBotsMigration },
  { name: '0008-step-counts', class: StepCountsMigration },
];
