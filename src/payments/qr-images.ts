/**
 * PIX QR images for charges: the image the gateway already returned when there is one (remembered by
 * BR Code, so nothing is rendered), else a 1-bit PNG encoded inline (`encodeQrPng`, under a
 * millisecond of CPU: cheaper than handing it to a worker thread, which cost twice as much in total).
 * botflow's sendCharge and the sandbox gateway's `/qr.png` both use it. Failures are coded errors:
 * BAD_REQUEST for text no QR code can hold, SHUTTING_DOWN once closed.
 */
import { BotflowError } from '../errors.ts';
import { encodeQrPng } from './encode-qr-png.ts';

/** Produces a charge's QR image. */
export interface QrRenderer {
  /** The PNG of `text` (default 384 px wide, 2-module margin), or the gateway's image of it. */
  render(text: string, options?: { width?: number; margin?: number }): Promise<Buffer>;
  /** Keeps the gateway's image of `text` (a base64 PNG, optionally a data URL) to hand out instead of rendering. */
  remember(text: string, imageBase64: string): void;
  close(): Promise<void>;
}

/** How many gateway images are kept (the oldest are dropped first): enough for the charges in flight. */
const REMEMBERED_IMAGES = 2048;
const DATA_URL = /^data:image\/png;base64,/;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Creates a renderer with an empty memory of gateway images. */
export function createQrImages(): QrRenderer {
  const known = new Map<string, Buffer>();
  let closed = false;
  return {
    async render(text, o = {}) {
      if (closed) throw new BotflowError('SHUTTING_DOWN', 'the QR renderer is closed');
      return known.get(text) ?? encodeQrPng(text, { width: o.width ?? 384, margin: o.margin ?? 2 });
    },
    remember(text, imageBase64) {
      const png = Buffer.from(imageBase64.replace(DATA_URL, ''), 'base64');
      // Only a PNG is kept: anything else (another format, a broken string) is rendered instead.
      if (png.length <= PNG_SIGNATURE.length || !png.subarray(0, 8).equals(PNG_SIGNATURE)) return;
      if (known.size >= REMEMBERED_IMAGES) known.delete(known.keys().next().value!);
      known.set(text, png);
    },
    async close() {
      closed = true;
      known.clear();
    },
  };
}
