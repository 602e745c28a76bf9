/**
 * The text checks of `text_validation` conditions (FLOW_FORMAT.md). All trim surrounding whitespace;
 * `contains`/`equals` compare case-insensitively (pt-BR lower case, NFC-normalized).
 */
import type { TextValidation } from './schema.ts';

const EMAIL = /^[^\s@"(),:;<>[\]\\]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/** A practical e-mail check: one @, a local part without spaces or specials, a dotted domain with a TLD. */
export function isEmail(text: string): boolean {
  const t = text.trim();
  return t.length <= 254 && EMAIL.test(t) && !t.includes('..');
}

/**
 * Brazilian phone numbers, with or without +55/55 and punctuation. DDD (area code) is 11–99 with no
 * zero digit (Anatel's plan); mobiles have 9 digits starting with 9 (the "nono dígito", mandatory
 * nationwide since 2016), landlines 8 digits starting with 2–5. An old 8-digit mobile (6–9) is refused:
 * it can no longer be dialled.
 */
export function isBrazilianPhone(text: string): boolean {
  const t = text.trim();
  if (!/^\+?[\d\s().-]+$/.test(t)) return false;
  let digits = t.replace(/\D/g, '');
  if (t.startsWith('+')) {
    if (!digits.startsWith('55')) return false;
    digits = digits.slice(2);
  } else if ((digits.length === 12 || digits.length === 13) && digits.startsWith('55')) {
    digits = digits.slice(2);
  }
  if ((digits.length === 11 || digits.length === 12) && digits.startsWith('0')) digits = digits.slice(1); // trunk 0
  const ddd = digits.slice(0, 2);
  if (!/^[1-9][1-9]$/.test(ddd)) return false;
  const number = digits.slice(2);
  if (number.length === 9) return number.startsWith('9');
  if (number.length === 8) return /^[2-5]/.test(number);
  return false;
}

/** CPF with its two check digits; punctuation (000.000.000-00) allowed; repeated digits refused. */
export function isCpf(text: string): boolean {
  const t = text.trim();
  if (!/^(\d{11}|\d{3}\.\d{3}\.\d{3}-\d{2})$/.test(t)) return false;
  const d = t.replace(/\D/g, '');
  if (/^(\d)\1{10}$/.test(d)) return false;
  const check = (length: number) => {
    let sum = 0;
    for (let i = 0; i < length; i++) sum += Number(d[i]) * (length + 1 - i);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  return check(9) === Number(d[9]) && check(10) === Number(d[10]);
}

function fold(text: string): string {
  return text.trim().normalize('NFC').toLocaleLowerCase('pt-BR');
}

/** Whether `text` passes `validation` (with `value` for contains/equals). */
export function matchesTextValidation(
  validation: TextValidation,
  value: string | undefined,
  text: string,
): boolean {
  switch (validation) {
    case 'email':
      return isEmail(text);
    case 'phone':
      return isBrazilianPhone(text);
    case 'cpf':
      return isCpf(text);
    case 'contains':
      return value !== undefined && fold(text).includes(fold(value));
    case 'equals':
      return value !== undefined && fold(text) === fold(value);
    case 'any':
      return text.trim().length > 0;
    default:
      return false;
  }
}
