/**
 * PIX QR images rendered in a bounded piscina worker pool, so PNG encoding never blocks conversations
 * or webhooks. botflow's sendCharge and the sandbox gateway's `/qr.png` both use it. There is no
 * in-thread fallback: a failure is a coded error (BAD_REQUEST for text no QR code can hold,
 * SHUTTING_DOWN once closed, INTERNAL when the pool itself fails or its queue is full).
 */
import { Piscina } from 'piscina';
import { BotflowError } from '../errors.ts';
import type { QrTask, QrTaskResult } from './qr-worker.ts';

/** Renders QR codes off-thread. */
export interface QrRenderer {
  /** The PNG of `text` (default 384 px wide, 2-module margin). */
  render(text: string, options?: { width?: number; margin?: number }): Promise<Buffer>;
  /** Worker threads currently running (never more than `maxThreads`). */
  readonly threads: number;
  close(): Promise<void>;
}

/** The longest text accepted: a PIX BR Code is at most a few hundred characters. */
const MAX_TEXT = 2048;

/** Creates a pool of at most `maxThreads` workers (default 2) queueing at most `maxQueue` renders. */
export function createQrPool(options: { maxThreads?: number; maxQueue?: number } = {}): QrRenderer {
  const pool = new Piscina({
    filename: new URL('./qr-worker.ts', import.meta.url).href,
    minThreads: 0,
    maxThreads: Math.max(1, options.maxThreads ?? 2),
    maxQueue: Math.max(1, options.maxQueue ?? 1000),
    idleTimeout: 30_000,
  });
  let closed: Promise<void> | null = null;
  return {
    async render(text, o = {}) {
      if (closed !== null) throw new BotflowError('SHUTTING_DOWN', 'the QR pool is closed');
      if (text === '' || text.length > MAX_TEXT)
        throw new BotflowError('BAD_REQUEST', `QR text must be 1-${MAX_TEXT} characters`);
      const task: QrTask = { text, width: o.width ?? 384, margin: o.margin ?? 2 };
      let result: QrTaskResult;
      try {
        result = (await pool.run(task)) as QrTaskResult;
      } catch (error) {
        if (closed !== null)
          throw new BotflowError('SHUTTING_DOWN', 'the QR pool is closed', { cause: error });
        throw new BotflowError('INTERNAL', 'QR rendering failed in the worker pool', { cause: error });
      }
      if ('invalid' in result)
        throw new BotflowError('BAD_REQUEST', `cannot render a QR code: ${result.invalid}`);
      return Buffer.from(result.png.buffer, result.png.byteOffset, result.png.byteLength);
    },
    get threads() {
      return pool.threads.length;
    },
    close() {
      closed ??= pool.destroy();
      return closed;
    },
  };
}
