/**
 * The `invalid_condition` rules: what each condition type needs (FLOW_FORMAT.md). The schema is lenient
 * on these fields so that these checks can name the field and say what is expected.
 */
import type { ValidationCode } from './flow-problem.ts';
import type { LooseStep } from './loose-steps.ts';
import { PAYMENT_STATUSES, TEXT_VALIDATIONS } from './schema.ts';

/**
 * Checks the conditions of one step, reporting each missing or out-of-range field through `push`
 * with a path relative to the step.
 */
export function checkConditions(
  step: LooseStep,
  push: (code: ValidationCode, rel: string, message: string) => void,
): void {
  const bad = (i: number, field: string, message: string) =>
    push('invalid_condition', `/conditions/${i}/${field}`, message);
  step.conditions.forEach((c, i) => {
    const max = c['max_attempts'];
    if (typeof max === 'number' && !(Number.isInteger(max) && max >= 1 && max <= 100)) {
      bad(i, 'max_attempts', 'max_attempts must be an integer from 1 to 100');
    }
    switch (c['type']) {
      case 'button_click':
        if (
          c['button_text'] === undefined ||
          (typeof c['button_text'] === 'string' && c['button_text'].trim() === '')
        ) {
          bad(i, 'button_text', 'a button_click condition needs button_text');
        }
        break;
      case 'text_validation': {
        const v = c['validation'];
        if (v === undefined)
          bad(
            i,
            'validation',
            `a text_validation condition needs validation (${TEXT_VALIDATIONS.join(', ')})`,
          );
        else if (typeof v === 'string' && !(TEXT_VALIDATIONS as readonly string[]).includes(v)) {
          bad(i, 'validation', `unknown validation "${v}" (expected ${TEXT_VALIDATIONS.join(', ')})`);
        } else if ((v === 'contains' || v === 'equals') && (c['value'] === undefined || c['value'] === '')) {
          bad(i, 'value', `validation "${v}" needs a value`);
        }
        break;
      }
      case 'payment_status': {
        const s = c['status'];
        if (s === undefined)
          bad(i, 'status', `a payment_status condition needs status (${PAYMENT_STATUSES.join(', ')})`);
        else if (typeof s === 'string' && !(PAYMENT_STATUSES as readonly string[]).includes(s)) {
          bad(i, 'status', `unknown status "${s}" (expected ${PAYMENT_STATUSES.join(', ')})`);
        }
        break;
      }
      case 'time_elapsed': {
        const m = c['minutes'];
        if (m === undefined) bad(i, 'minutes', 'a time_elapsed condition needs minutes (at least 1)');
        else if (typeof m === 'number' && !(Number.isFinite(m) && m >= 1))
          bad(i, 'minutes', 'minutes must be at least 1');
        break;
      }
    }
  });
}
