/**
 * The PageView of an ad click, queued in the conversions outbox when the click's bot has a pixel.
 * The click itself is the fact (stored in Redis before the redirect); its PageView row is written
 * beside it, on its own: a failure here is logged and the buyer's redirect goes on regardless.
 */
import type { Logger } from 'pino';
import type { ClickPayload } from '../tracking/click.ts';
import type { ConversionOutbox } from '../tracking/conversion-queue.ts';
import { buildPageViewRow } from '../tracking/conversion-rows.ts';
import type { PixelSettings } from '../tracking/pixel-settings.ts';

/** Creates the recorder the tracking router calls for each stored click. */
export function createPageViewRecorder(options: {
  pixelOf(botId: string): Promise<PixelSettings | null>;
  outbox: Pick<ConversionOutbox, 'add'>;
  /** The public URL of a tracking link (the PageView's page). */
  linkUrl(slug: string): string;
  logger: Logger;
}): (token: string, click: ClickPayload) => Promise<void> {
  return async (token, click) => {
    const pixel = await options.pixelOf(click.bot_id).catch(() => null);
    if (pixel === null) return;
    const { eventId, pixelId, payload } = buildPageViewRow({ pixel, token, click, linkUrl: options.linkUrl });
    await options.outbox
      .add({ eventId, pixelId, botId: click.bot_id, payload })
      .catch((error: unknown) => options.logger.warn({ err: error }, 'PageView not recorded'));
  };
}
