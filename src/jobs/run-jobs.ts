/**
 * The periodic jobs, one round at a time: reconcile pending charges with their gateways, expire and
 * revoke access, send due Meta conversion events, forget Telegram dedupe keys past two days, and prune
 * finished outbox and timer rows past the retention period (at most every ten minutes). Each outcome is
 * counted in `/metrics`.
 */
import type { Logger } from 'pino';
import type { ConversionOutbox } from '../tracking/conversion-queue.ts';
import type { PixelSettings } from '../tracking/pixel-settings.ts';
import { pruneOldRows } from '../db/prune-old-rows.ts';
import type { Sql } from '../db/sql-client.ts';
import type { Metrics } from '../observability/metrics.ts';
import { sendDueConversions } from '../meta/send-conversions.ts';
import { inputKeys } from '../runtime/input-keys.ts';

/** What one round did. */
export interface JobsOutcome {
  reconciled: number;
  accessExpired: number;
  accessRevoked: number;
  conversionsHandled: number;
}

/** How often finished rows are pruned. */
const PRUNE_EVERY_MS = 10 * 60_000;

/** Creates the function that runs one round of every job. */
export function createJobs(options: {
  reconcile(): Promise<number>;
  expireAccess(): Promise<number>;
  revokeRefundedAccess(): Promise<number>;
  conversions: ConversionOutbox;
  /** Bot `botId`'s Meta credentials for the pixel (botId null: the pixel's, for rows from before 0007). */
  pixelSettings(pixelId: string, botId: string | null): Promise<PixelSettings | null>;
  graphUrl: string;
  retentionDays: number;
  sql: Sql;
  metrics: Metrics;
  logger: Logger;
  now(): number;
}): () => Promise<JobsOutcome> {
  const { sql, metrics, logger, now } = options;
  let lastPruned = 0;

  async function prune(): Promise<void> {
    // At most every ten minutes; a clock that went back (an NTP step) prunes again rather than waiting.
    if (now() - lastPruned < PRUNE_EVERY_MS && now() >= lastPruned) return;
    lastPruned = now();
    const pruned = await pruneOldRows(sql, { retentionDays: options.retentionDays }).catch(
      (error: unknown) => {
        logger.warn({ code: (error as { code?: string }).code }, 'pruning old rows failed');
        return null;
      },
    );
    if (pruned === null || !Object.values(pruned).some((n) => n > 0)) return;
    metrics.jobOutcomes.inc(
      { kind: 'rows_pruned' },
      pruned.effects + pruned.timers + pruned.conversion_events,
    );
    logger.info({ ...pruned, retention_days: options.retentionDays }, 'pruned finished rows');
  }

  return async () => {
    const reconciled = await options.reconcile();
    const accessExpired = await options.expireAccess();
    const accessRevoked = await options.revokeRefundedAccess();
    const conversionsHandled = await sendDueConversions({
      outbox: options.conversions,
      pixelSettings: options.pixelSettings,
      graphUrl: options.graphUrl,
      now,
    });
    // Telegram keeps an update at most a day and may restart update ids after a week of silence:
    // its dedupe keys need two days, no more. Payment keys stay: they guard money.
    await sql(
      `delete from processed_inputs where key in (select key from processed_inputs
         where key like $1 and processed_at < now() - interval '2 days' limit 5000)`,
      [inputKeys.telegramLikePattern],
    ).catch(() => {});
    await prune();
    metrics.jobOutcomes.inc({ kind: 'payments_reconciled' }, reconciled);
    metrics.jobOutcomes.inc({ kind: 'access_expired' }, accessExpired);
    metrics.jobOutcomes.inc({ kind: 'access_revoked' }, accessRevoked);
    metrics.jobOutcomes.inc({ kind: 'conversions_handled' }, conversionsHandled);
    return { reconciled, accessExpired, accessRevoked, conversionsHandled };
  };
}
