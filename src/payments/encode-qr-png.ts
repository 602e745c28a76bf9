/**
 * Encodes text as a QR code in a 1-bit grayscale PNG, built straight from the code's modules (each
 * module a square of whole pixels, a white quiet zone around), so a charge's image costs about a
 * millisecond of CPU and a couple of kilobytes instead of an RGBA raster. Throws a `BotflowError`
 * `BAD_REQUEST` for text no QR code can hold.
 */
import { crc32, deflateSync } from 'node:zlib';
import QRCode from 'qrcode';
import { BotflowError } from '../errors.ts';

/** How the image is laid out. */
export interface QrPngOptions {
  /** Image width and height in pixels (default 384); never less than one pixel per module. */
  width?: number;
  /** The least quiet zone, in modules (default 2); leftover pixels widen it. */
  margin?: number;
  /** QR error correction (default 'M', as `qrcode` renders). */
  errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H';
}

/** The longest text accepted: a PIX BR Code is at most a few hundred characters. */
const MAX_TEXT = 2048;
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IEND = chunk('IEND', Buffer.alloc(0));
/** The mask pattern every code uses (ISO 18004 mask 0, `(row + column) % 2`), chosen without scoring. */
const FIXED_MASK = 0;
/** PNG filter type 2: each byte is the difference from the byte above. */
const FILTER_UP = 2;

/** The PNG of `text` as a QR code. */
export function encodeQrPng(text: string, options: QrPngOptions = {}): Buffer {
  const modules = modulesOf(text, options.errorCorrectionLevel ?? 'M');
  const size = Math.round(Math.sqrt(modules.length));
  const margin = Math.max(0, options.margin ?? 2);
  const scale = Math.max(1, Math.floor((options.width ?? 384) / (size + 2 * margin)));
  const width = Math.max(options.width ?? 384, (size + 2 * margin) * scale);
  const offset = Math.floor((width - size * scale) / 2);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(width, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // grayscale; the compression, filter and interlace bytes stay 0
  const pixels = rasterize(modules, size, scale, offset, width);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels, { level: 1 })),
    IEND,
  ]);
}

/** The code's modules, row-major, 1 for dark. */
function modulesOf(text: string, level: 'L' | 'M' | 'Q' | 'H'): Uint8Array {
  if (text === '' || text.length > MAX_TEXT)
    throw new BotflowError('BAD_REQUEST', `QR text must be 1-${MAX_TEXT} characters`);
  try {
    // Any of the 8 masks reads, and so does one byte-mode segment (at most a version or so larger
    // than qrcode's shortest mix of modes): scoring all 8 masks and searching for that mix (a
    // shortest path over the text's segments) were most of the encoding's CPU.
    return QRCode.create([{ data: Buffer.from(text, 'utf8'), mode: 'byte' }], {
      errorCorrectionLevel: level,
      maskPattern: FIXED_MASK,
    }).modules.data;
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'the text cannot be encoded as a QR code';
    throw new BotflowError('BAD_REQUEST', `cannot render a QR code: ${reason}`, { cause: error });
  }
}

/**
 * The filtered scanlines, 1 bit per pixel (1 = white): the first line of each module row and of each
 * quiet zone is written out (filter 0); the lines repeating it are filter 2 ("up") with all-zero
 * bytes, which deflate at level 1 squeezes to almost nothing, fast.
 */
function rasterize(modules: Uint8Array, size: number, scale: number, offset: number, width: number): Buffer {
  const stride = 1 + Math.ceil(width / 8);
  const out = Buffer.alloc(stride * width);
  const white = Buffer.alloc(stride, 0xff);
  white[0] = 0;
  white[stride - 1] = trailingBits(width);
  const bottom = offset + size * scale;
  for (let y = 0; y < width; y++) out[y * stride] = FILTER_UP;
  if (offset > 0) white.copy(out, 0);
  if (bottom < width) white.copy(out, bottom * stride);
  for (let row = 0; row < size; row++) {
    const line = out.subarray((offset + row * scale) * stride, (offset + row * scale + 1) * stride);
    white.copy(line);
    for (let col = 0; col < size; col++) {
      if (modules[row * size + col] === 0) continue;
      for (let x = offset + col * scale, end = x + scale; x < end; x++)
        line[1 + (x >> 3)]! &= ~(0x80 >> (x & 7));
    }
  }
  return out;
}

/** The last byte of a white row: the pixels past the width are padding, left 0. */
function trailingBits(width: number): number {
  const used = width % 8;
  return used === 0 ? 0xff : (0xff << (8 - used)) & 0xff;
}

/** One PNG chunk: length, type, data, CRC32 of type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
