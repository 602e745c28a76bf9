import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import QRCode from 'qrcode';
import { BotflowError } from '../../src/errors.ts';
import { createQrImages } from '../../src/payments/qr-images.ts';
import { startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { scanQrPng } from '../support/scan-qr.ts';

const BR_CODE =
  '00020101021226600014br.gov.bcb.pix0119sandbox@botflow.dev0215order-qr-pool-1520400005303986540529.905802BR5915BOTFLOW SANDBOX6009SAO PAULO62070503***6304ABCD';
const isCode = (code: string) => (e: unknown) => e instanceof BotflowError && e.code === code;
const scan = (png: Buffer) => scanQrPng(png).text;

describe('QR images', () => {
  it('renders a scannable PNG of the text, inline', async () => {
    const qr = createQrImages();
    const png = await qr.render(BR_CODE, { width: 384, margin: 2 });
    assert.equal(png.readUInt32BE(16), 384, 'IHDR width');
    assert.equal(scan(png), BR_CODE);
    await qr.close();
  });

  it("hands out the gateway's image of a BR Code instead of rendering one (data URL or bare base64)", async () => {
    const qr = createQrImages();
    const gatewayPng = await QRCode.toBuffer(BR_CODE, { type: 'png', width: 300 });
    qr.remember(BR_CODE, `data:image/png;base64,${gatewayPng.toString('base64')}`);
    assert.ok((await qr.render(BR_CODE)).equals(gatewayPng));
    const other = `${BR_CODE}-2`;
    const otherPng = await QRCode.toBuffer(other, { type: 'png' });
    qr.remember(other, otherPng.toString('base64'));
    assert.ok((await qr.render(other)).equals(otherPng));
    await qr.close();
  });

  it('renders anyway when what the gateway returned is not a PNG', async () => {
    const qr = createQrImages();
    qr.remember(BR_CODE, Buffer.from('GIF89a not a png at all').toString('base64'));
    qr.remember(`${BR_CODE}-x`, '');
    assert.equal(scan(await qr.render(BR_CODE)), BR_CODE);
    assert.equal(scan(await qr.render(`${BR_CODE}-x`)), `${BR_CODE}-x`);
    await qr.close();
  });

  it('refuses text no QR code can hold with BAD_REQUEST, and keeps serving', async () => {
    const qr = createQrImages();
    await assert.rejects(qr.render('é'.repeat(2000)), isCode('BAD_REQUEST'));
    await assert.rejects(qr.render(''), isCode('BAD_REQUEST'));
    await assert.rejects(qr.render('x'.repeat(5000)), isCode('BAD_REQUEST'));
    assert.equal(scan(await qr.render('still serving')), 'still serving');
    await qr.close();
  });

  it('after close every render is SHUTTING_DOWN', async () => {
    const closing = createQrImages();
    assert.ok((await closing.render('x')).length > 0);
    await closing.close();
    await assert.rejects(closing.render('x'), isCode('SHUTTING_DOWN'));
    await closing.close();
  });

  it("serves the sandbox's /qr.png as a scannable PNG of the charge's BR Code, and 503 once closed", async () => {
    const shared = createQrImages();
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
      assert.equal(scan(Buffer.from(await image.arrayBuffer())), charge.br_code);
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
