import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import QRCode from 'qrcode';
import { BotflowError } from '../../src/errors.ts';
import { createQrPool } from '../../src/payments/qr-pool.ts';
import { startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';

const BR_CODE =
  '00020101021226600014br.gov.bcb.pix0119sandbox@botflow.dev0215order-qr-pool-1520400005303986540529.905802BR5915BOTFLOW SANDBOX6009SAO PAULO62070503***6304ABCD';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isCode = (code: string) => (e: unknown) => e instanceof BotflowError && e.code === code;

describe('QR pool (piscina)', () => {
  const pool = createQrPool({ maxThreads: 2 });
  after(() => pool.close());

  it('renders in a worker the same PNG qrcode renders, at the asked width', async () => {
    const png = await pool.render(BR_CODE, { width: 384, margin: 2 });
    assert.ok(Buffer.isBuffer(png));
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.equal(png.readUInt32BE(16), 384, 'IHDR width');
    const local = await QRCode.toBuffer(BR_CODE, { type: 'png', width: 384, margin: 2 });
    assert.ok(png.equals(local));
  });

  it('runs many renders on at most maxThreads workers', async () => {
    let most = 0;
    const renders = Array.from({ length: 24 }, (_, i) =>
      pool.render(`${BR_CODE}-${i}`).then((png) => {
        most = Math.max(most, pool.threads);
        return png;
      }),
    );
    const pngs = await Promise.all(renders);
    assert.equal(new Set(pngs.map((p) => p.toString('base64'))).size, 24);
    assert.ok(most >= 1 && most <= 2, `${most} threads`);
  });

  it('refuses text no QR code can hold with BAD_REQUEST (from the worker, not a crash)', async () => {
    await assert.rejects(pool.render('é'.repeat(2000)), isCode('BAD_REQUEST'));
    await assert.rejects(pool.render(''), isCode('BAD_REQUEST'));
    await assert.rejects(pool.render('x'.repeat(5000)), isCode('BAD_REQUEST'));
    assert.ok((await pool.render('still serving')).length > 0);
  });

  it('a full queue is a coded failure, not a fallback render', async () => {
    const tiny = createQrPool({ maxThreads: 1, maxQueue: 1 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => tiny.render(`q${i}`)));
      const refused = results.filter((r) => r.status === 'rejected');
      assert.ok(refused.length > 0 && refused.length < 12);
      for (const r of refused) assert.ok(isCode('INTERNAL')((r as PromiseRejectedResult).reason));
    } finally {
      await tiny.close();
    }
  });

  it('after close every render is SHUTTING_DOWN', async () => {
    const closing = createQrPool();
    assert.ok((await closing.render('x')).length > 0);
    await closing.close();
    await assert.rejects(closing.render('x'), isCode('SHUTTING_DOWN'));
    await closing.close();
  });

  it("serves the sandbox's /qr.png from the pool, and 503 once the pool is closed", async () => {
    const shared = createQrPool({ maxThreads: 1 });
    const sandbox = await startSandboxGateway({ apiKey: 'k', qr: shared });
    try {
      const res = await fetch(`${sandbox.url}/v1/charges`, {
        method: 'POST',
        headers: { authorization: 'Bearer k', 'idempotency-key': 'qr-1', 'content-type': 'application/json' },
        body: JSON.stringify({
          order_id: 'order-qr',
          amount_cents: 2990,
          description: 'VIP',
          expires_in_seconds: 600,
          notification_url: 'http://127.0.0.1:1/hook',
        }),
      });
      const charge = (await res.json()) as { id: string; br_code: string };
      const image = await fetch(`${sandbox.url}/v1/charges/${charge.id}/qr.png`);
      assert.equal(image.status, 200);
      assert.equal(image.headers.get('content-type'), 'image/png');
      const served = Buffer.from(await image.arrayBuffer());
      assert.ok(served.equals(await shared.render(charge.br_code)));
      await shared.close();
      const down = await fetch(`${sandbox.url}/v1/charges/${charge.id}/qr.png`);
      assert.equal(down.status, 503);
      assert.equal(((await down.json()) as { error: { code: string } }).error.code, 'qr_failed');
    } finally {
      await sandbox.close();
      await shared.close();
    }
  });
});
