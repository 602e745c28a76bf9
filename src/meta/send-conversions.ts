/**
 * Drains the conversions outbox to Meta: claims due events, posts them per (bot, pixel) in one request
 * with that bot's token (bots sharing a pixel each send their own events),
 * and marks each sent, retried later with backoff (network, 5xx, Meta's transient codes), or dead
 * with the reason (permanent refusals, events older than Meta's 7 days, pixels without settings).
 * A batch refused for an invalid parameter is split in halves and resent, so one bad event cannot
 * take the others down with it.
 */
import type { PixelSettings } from '../tracking/pixel-settings.ts';
import type { ConversionOutbox, ConversionRow } from '../tracking/conversion-queue.ts';
import { isTooOld, nextRetryDelay, type SendResult, sendConversionEvents } from './meta-client.ts';

/** Meta's "invalid parameter": one bad event rejects the whole request. */
const INVALID_PARAMETER = 100;
/** How long one request to Meta may take before it fails as a network error. */
const SEND_TIMEOUT_MS = 10_000;
/** Kept free at the end of a lease for marking what was sent. */
const LEASE_MARGIN_MS = 2_000;

export interface ConversionSenderOptions {
  outbox: ConversionOutbox;
  /**
   * The Meta credentials of bot `botId` for pixel `pixelId` (null when that bot has no such pixel);
   * `botId` null (rows from before events recorded their bot): any bot's settings for the pixel.
   */
  pixelSettings(pixelId: string, botId: string | null): Promise<PixelSettings | null>;
  graphUrl: string;
  now(): number;
  random?(): number;
  maxAttempts?: number;
  batchSize?: number;
  /**
   * How long claimed events stay invisible to other senders (default 20 s): when a sender dies
   * holding them, that is how late they go out. No request starts that could outlast it.
   */
  leaseMs?: number;
  onSent?(count: number): void;
}

/** Rows by the credentials that send them: the producing bot and its pixel (bot null: the pixel's). */
function groupBySender(rows: ConversionRow[]) {
  const groups = new Map<string, { pixelId: string; botId: string | null; list: ConversionRow[] }>();
  for (const row of rows) {
    const key = JSON.stringify([row.botId, row.pixelId]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { pixelId: row.pixelId, botId: row.botId, list: [] };
      groups.set(key, group);
    }
    group.list.push(row);
  }
  return groups.values();
}

/**
 * Sends one round of due events, each with the Meta credentials of the bot that produced it; returns
 * how many were claimed. A request that could end after the lease is not started: its events stay
 * claimed until the lease ends, then go out in a later round (rather than twice, by two senders).
 */
export async function sendDueConversions(options: ConversionSenderOptions): Promise<number> {
  const now = options.now();
  const leaseMs = options.leaseMs ?? 20_000;
  const rows = await options.outbox.claim(now, options.batchSize ?? 500, leaseMs);
  /** Whether a request started now surely ends, with its marks, within the lease. */
  const inLease = () => options.now() - now + SEND_TIMEOUT_MS + LEASE_MARGIN_MS <= leaseMs;
  const bySender = groupBySender(rows);
  const maxAttempts = options.maxAttempts ?? 12;
  const settle = async (rows: ConversionRow[], result: SendResult) => {
    if (result.ok) {
      await options.outbox.markSent(
        rows.map((r) => r.id),
        options.now(),
      );
      options.onSent?.(rows.length);
      return;
    }
    for (const row of rows) {
      const attempts = row.attempts + 1;
      const reason = `${result.status ?? 'network'}${result.code === undefined ? '' : ` code ${result.code}`}: ${result.message}`;
      if (!result.retryable || attempts >= maxAttempts)
        await options.outbox.markDead(row.id, attempts, reason);
      else
        await options.outbox.reschedule(
          row.id,
          attempts,
          options.now() + nextRetryDelay(attempts, options.random ?? Math.random),
          reason,
        );
    }
  };
  for (const { pixelId, botId, list } of bySender) {
    const settings = await options.pixelSettings(pixelId, botId);
    const live: typeof list = [];
    for (const row of list) {
      const attempts = row.attempts + 1;
      if (settings === null)
        await options.outbox.markDead(
          row.id,
          attempts,
          botId === null
            ? 'no pixel settings for this pixel id'
            : `bot ${botId} has no pixel settings for this pixel id`,
        );
      else if (isTooOld(Number(row.payload['event_time']), now))
        await options.outbox.markDead(row.id, attempts, 'older than 7 days: Meta would refuse it');
      else live.push(row);
    }
    if (live.length === 0 || settings === null) continue;
    const send = (rows: typeof live) =>
      sendConversionEvents({
        graphUrl: options.graphUrl,
        pixelId,
        accessToken: settings.access_token,
        ...(settings.test_event_code === undefined ? {} : { testEventCode: settings.test_event_code }),
        events: rows.map((r) => r.payload),
        timeoutMs: SEND_TIMEOUT_MS,
      });
    // Meta rejects a whole batch for one invalid event: halve it until only the bad ones die.
    const deliver = async (batch: typeof live): Promise<void> => {
      if (!inLease()) return;
      const result = await send(batch);
      if (!result.ok && !result.retryable && result.code === INVALID_PARAMETER && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await deliver(batch.slice(0, half));
        await deliver(batch.slice(half));
      } else await settle(batch, result);
    };
    await deliver(live);
  }
  return rows.length;
}
