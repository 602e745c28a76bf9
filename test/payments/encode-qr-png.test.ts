import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BotflowError } from '../../src/errors.ts';
import { encodeQrPng } from '../../src/payments/encode-qr-png.ts';
import { buildSandboxBrCode } from '../../src/sim/sandbox-br-code.ts';
import { scanQrPng as scan } from '../support/scan-qr.ts';

describe('encodeQrPng', () => {
  it('is a 1-bit PNG of the asked width that a QR reader reads back as the exact BR Code', () => {
    const brCode = buildSandboxBrCode({ chargeId: 'ch_1', orderId: 'order-1', amountCents: 2990 });
    const png = encodeQrPng(brCode, { width: 384, margin: 2 });
    const read = scan(png);
    assert.equal(read.text, brCode);
    assert.deepEqual([read.width, read.height, read.depth], [384, 384, 1]);
    assert.ok(png.length < 4096, `${png.length} bytes`);
  });

  it('reads back exactly for any BR Code, width and margin (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30, unit: fc.constantFrom(...'abcXYZ019-_.'.split('')) }),
        fc.integer({ min: 1, max: 99_999_99 }),
        fc.integer({ min: 160, max: 640 }),
        fc.integer({ min: 1, max: 4 }),
        (order, cents, width, margin) => {
          const brCode = buildSandboxBrCode({ chargeId: `ch_${order}`, orderId: order, amountCents: cents });
          const read = scan(encodeQrPng(brCode, { width, margin }));
          assert.equal(read.text, brCode);
          assert.equal(read.width, width);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reads back any text, including UTF-8 (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300 }), (text) => {
        assert.equal(scan(encodeQrPng(text)).text, text);
      }),
      { numRuns: 30 },
    );
  });

  it('grows past a too-small width to one pixel per module rather than drop modules', () => {
    const brCode = buildSandboxBrCode({ chargeId: 'ch_2', orderId: 'o', amountCents: 100 });
    const read = scan(encodeQrPng(brCode, { width: 10, margin: 4 }));
    assert.ok(read.width > 10);
    assert.equal(read.text, brCode);
  });

  it('refuses text no QR code can hold with BAD_REQUEST', () => {
    const isBadRequest = (e: unknown) => e instanceof BotflowError && e.code === 'BAD_REQUEST';
    assert.throws(() => encodeQrPng(''), isBadRequest);
    assert.throws(() => encodeQrPng('é'.repeat(2000)), isBadRequest);
    assert.throws(() => encodeQrPng('x'.repeat(5000)), isBadRequest);
  });
});
