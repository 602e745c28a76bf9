// TEMP (replaced by the validator branch)
import type { TextValidation } from './schema.ts';
export function matchesTextValidation(
  validation: TextValidation,
  value: string | undefined,
  text: string,
): boolean {
  const t = text.trim().toLowerCase();
  const v = (value ?? '').trim().toLowerCase();
  if (validation === 'any') return t.length > 0;
  if (validation === 'equals') return t === v;
  if (validation === 'contains') return t.includes(v);
  if (validation === 'email') return /^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(t);
  return t.length > 0;
}
