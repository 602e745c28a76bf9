/**
 * Builds the sandbox gateway's PIX copy-and-paste code with pix-utils: a single-use EMV BR Code whose
 * amount, reference label (txid) and free text come from the charge, so payer apps and parsers accept it.
 */
import { createStaticPix, hasError } from 'pix-utils';

/** The merchant template (tag 26) must stay ≤ 99 chars: GUI (18) + key (23) + info header (4) leave 54. */
const MAX_INFO_CHARS = 50;

/** Returns the BR Code for a charge of `amountCents` (integer centavos) on `orderId`. */
export function buildSandboxBrCode(input: {
  chargeId: string;
  orderId: string;
  amountCents: number;
}): string {
  const params = {
    merchantName: 'BOTFLOW SANDBOX',
    merchantCity: 'SAO PAULO',
    pixKey: 'sandbox@botflow.dev',
    // ASCII only: pix-utils counts lengths in UTF-16 units but computes the CRC over UTF-8 bytes.
    infoAdicional: input.orderId.replace(/[^\x20-\x7e]/g, '').slice(0, MAX_INFO_CHARS),
    // n/100 as a double always prints back as n with two decimals (the error is far below 0.005).
    transactionAmount: input.amountCents / 100,
    txid: input.chargeId.replace(/[^A-Za-z0-9]/g, '').slice(0, 25) || '***',
    // Point of initiation 12: single use, as a gateway's charge code is.
    oneTime: true,
  };
  const pix = createStaticPix(params);
  if (hasError(pix)) throw new Error(`cannot build a BR Code: ${pix.message}`);
  return pix.toBRCode();
}
