/**
 * Exact conversion between integer centavos and the decimal reais some gateways (Mercado Pago) speak.
 * Both directions go through the decimal digits, never through `x * 100` or `x / 100` arithmetic, so
 * 1990 ↔ 19.9 and 123456789 ↔ 1234567.89 round-trip without float drift.
 */
import { BotflowError } from '../errors.ts';
import type { Cents } from './gateway.ts';

/** Largest amount converted (R$ 10 billion): well inside doubles' exact decimal range. */
const MAX_CENTS = 1_000_000_000_000;

/** Centavos → reais as a JSON number whose shortest printing is the exact decimal (1990 → 19.9). */
export function centsToReais(cents: Cents): number {
  if (!Number.isSafeInteger(cents) || cents < 0 || cents > MAX_CENTS)
    throw new BotflowError('BAD_REQUEST', 'an amount must be a non-negative integer number of centavos');
  const whole = Math.floor(cents / 100);
  const fraction = String(cents % 100).padStart(2, '0');
  return Number(`${whole}.${fraction}`);
}

/** Reais (a JSON number or decimal string with at most two decimals) → centavos; null when not exact. */
export function reaisToCents(reais: unknown): Cents | null {
  let text: string;
  if (typeof reais === 'number') {
    if (!Number.isFinite(reais) || reais < 0) return null;
    text = String(reais); // the shortest decimal that reads back as this double: what the JSON said
  } else if (typeof reais === 'string') text = reais.trim();
  else return null;
  const m = /^(\d{1,13})(?:\.(\d{1,2})0*)?$/.exec(text);
  if (m === null) return null;
  const cents = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return cents <= MAX_CENTS ? cents : null;
}
