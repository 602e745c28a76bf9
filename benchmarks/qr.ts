/**
 * The PIX QR image per charge: CPU ms and PNG bytes of `qrcode`'s `toBuffer` (an RGBA raster, the
 * old path, then run in a piscina pool) beside the 1-bit PNG built from the code's modules
 * (`encodeQrPng`, run inline), on distinct BR Codes. Prints one JSON object. The same encoder in a
 * two-thread piscina pool measured 1.59 ms CPU per charge (all threads) against 0.79 inline, so the
 * pool was dropped.
 */
import QRCode from 'qrcode';
import { encodeQrPng } from '../src/payments/encode-qr-png.ts';
import { round } from './lib/stats.ts';

const COUNT = Number(process.env['BENCH_QR'] ?? 400);
const GOAL_MS = 1.5;

/** A BR Code of the sandbox's shape for charge i (distinct text, so nothing is cached). */
const brCodeOf = (i: number) =>
  `00020101021226600014br.gov.bcb.pix0119sandbox@botflow.dev0215order-bench-${String(i).padStart(6, '0')}` +
  '520400005303986540529.905802BR5915BOTFLOW SANDBOX6009SAO PAULO62070503***6304ABCD';

/** Process CPU (all threads) in ms. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms per charge and bytes per image of `render` over COUNT codes, after a warm-up. */
async function measure(render: (text: string) => Buffer | Promise<Buffer>) {
  for (let i = 0; i < 30; i++) await render(brCodeOf(COUNT + i));
  let bytes = 0;
  const start = cpuMs();
  const wall = performance.now();
  await Promise.all(
    Array.from({ length: COUNT }, async (_, i) => {
      const png = await render(brCodeOf(i));
      bytes += png.length;
    }),
  );
  return {
    cpu_ms_per_charge: round((cpuMs() - start) / COUNT, 3),
    wall_ms_per_charge: round((performance.now() - wall) / COUNT, 3),
    png_bytes: Math.round(bytes / COUNT),
  };
}

const before = await measure((text) => QRCode.toBuffer(text, { type: 'png', width: 384, margin: 2 }));
const inline = await measure((text) => encodeQrPng(text, { width: 384, margin: 2 }));
process.stdout.write(
  `${JSON.stringify({
    charges: COUNT,
    goal_cpu_ms_per_charge: GOAL_MS,
    qrcode_to_buffer: before,
    modules_png_inline: inline,
    meets_goal: inline.cpu_ms_per_charge <= GOAL_MS,
  })}\n`,
);
