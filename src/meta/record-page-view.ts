/**
 * The PageView of an ad click, queued in the conversions outbox when the click's bot has a pixel.
 * The click itself is the fact (stored in Redis before the redirect); its PageView row is written
 * beside it, on its own: the buyer's redirect goes on whatever happens here. A row the outbox could
 * not take because Postgres did not answer is kept in memory and added again with backoff, so an
 * outage delays the PageViews of the clicks it answered rather than losing them (a process that
 * stops meanwhile loses what it kept; past `maxWaiting`, the oldest are dropped, each logged).
 */
import type { Logger } from 'pino';
import { BotflowError } from '../errors.ts';
import type { ClickPayload } from '../tracking/click.ts';
import type { ConversionOutbox } from '../tracking/conversion-queue.ts';
import { buildPageViewRow } from '../tracking/conversion-rows.ts';
import type { PixelSettings } from '../tracking/pixel-settings.ts';

/** A PageView row as the outbox takes it. */
type PageViewRow = Parameters<ConversionOutbox['add']>[0];

/** Waits between attempts to add the kept rows again (the last one repeats). */
const RETRY_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** Rows tried again per attempt. */
const RETRY_BATCH = 500;

/** Whether the outbox refused a row because Postgres did not answer (worth trying again). */
const isOutage = (error: unknown) => error instanceof BotflowError && error.code === 'STORE_UNAVAILABLE';

/** What the tracking router calls for each stored click, and what stops the retries at shutdown. */
export interface PageViewRecorder {
  record(token: string, click: ClickPayload): Promise<void>;
  /** Stops retrying; the rows still kept are logged as lost. */
  close(): void;
}

/** Creates the recorder the tracking router calls for each stored click. */
export function createPageViewRecorder(options: {
  pixelOf(botId: string): Promise<PixelSettings | null>;
  outbox: Pick<ConversionOutbox, 'add'>;
  /** The public URL of a tracking link (the PageView's page). */
  linkUrl(slug: string): string;
  logger: Logger;
  /** Waits between retries (default 1 s, 2 s, 5 s, 10 s, then every 30 s). */
  retryDelaysMs?: readonly number[];
  /** Rows kept for retry at most (default 10,000). */
  maxWaiting?: number;
}): PageViewRecorder {
  const delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const maxWaiting = options.maxWaiting ?? 10_000;
  let waiting: PageViewRow[] = [];
  let attempt = 0;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  /** Keeps rows the outbox could not take, the oldest dropped past the limit, and schedules a retry. */
  const keep = (rows: readonly PageViewRow[]) => {
    waiting.push(...rows);
    const over = waiting.length - maxWaiting;
    if (over > 0) {
      for (const row of waiting.slice(0, over))
        options.logger.warn({ event_id: row.eventId }, 'PageView dropped: too many waiting for Postgres');
      waiting = waiting.slice(over);
    }
    if (timer !== null || closed) return;
    timer = setTimeout(retry, delays[Math.min(attempt, delays.length - 1)]);
    timer.unref();
  };

  /** Adds a batch of the kept rows again; what still fails waits for the next attempt. */
  const retry = async () => {
    timer = null;
    const batch = waiting.slice(0, RETRY_BATCH);
    waiting = waiting.slice(batch.length);
    const results = await Promise.allSettled(batch.map((row) => options.outbox.add(row)));
    const failed = batch.filter((_, i) => results[i]!.status === 'rejected');
    attempt = failed.length === 0 ? 0 : attempt + 1;
    if (failed.length > 0)
      options.logger.warn({ waiting: failed.length + waiting.length }, 'PageViews still waiting');
    else if (batch.length > 0) options.logger.info({ added: batch.length }, 'waiting PageViews recorded');
    if (failed.length > 0 || waiting.length > 0) keep(failed);
  };

  const record = async (token: string, click: ClickPayload) => {
    const pixel = await options.pixelOf(click.bot_id).catch(() => null);
    if (pixel === null) return;
    const { eventId, pixelId, payload } = buildPageViewRow({ pixel, token, click, linkUrl: options.linkUrl });
    const row: PageViewRow = { eventId, pixelId, botId: click.bot_id, payload };
    await options.outbox.add(row).catch((error: unknown) => {
      if (!isOutage(error)) {
        options.logger.warn({ err: error }, 'PageView not recorded');
        return;
      }
      options.logger.warn({ err: error, event_id: eventId }, 'PageView not recorded yet: kept to try again');
      keep([row]);
    });
  };
  return {
    record,
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (waiting.length > 0)
        options.logger.warn({ lost: waiting.length }, 'PageViews still waiting at shutdown: lost');
      waiting = [];
    },
  };
}
