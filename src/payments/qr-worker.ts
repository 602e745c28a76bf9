/**
 * The piscina task that renders a PIX QR code as a PNG off the event loop; the pool in `qr-pool.ts`
 * runs it. Input it cannot encode (too long for a QR code) is an answer, not a throw, so the caller
 * can tell a bad request from a broken pool.
 */
import QRCode from 'qrcode';

/** What one render task is asked for. */
export interface QrTask {
  text: string;
  width: number;
  margin: number;
}

/** The outcome of one render task. */
export type QrTaskResult = { png: Uint8Array } | { invalid: string };

/** Renders `text` as a PNG of `width` pixels with a quiet zone of `margin` modules. */
export default async function renderQrTask(task: QrTask): Promise<QrTaskResult> {
  try {
    const png = await QRCode.toBuffer(task.text, { type: 'png', width: task.width, margin: task.margin });
    // A copy: a small Buffer may be a view into Node's shared pool, which must not cross threads.
    return { png: new Uint8Array(png) };
  } catch (error) {
    return { invalid: error instanceof Error ? error.message : 'the text cannot be encoded as a QR code' };
  }
}
