/**
 * Reads a QR image back as a phone would: decodes the PNG (pngjs) and scans it for a code (jsQR), so
 * tests check the text a payer's app gets, not the bytes of one encoder.
 */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsQR is CommonJS whose types declare an ES default export: Node hands the function itself.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

/** The text of the QR code in `png` (null when none is found), with the image's size and bit depth. */
export function scanQrPng(png: Buffer): {
  text: string | null;
  width: number;
  height: number;
  depth: number;
} {
  const image = PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  return { text: found?.data ?? null, width: image.width, height: image.height, depth: png[24]! };
}
