// TEMP (replaced by the validator branch)
import { validateFlow, type ValidationResult } from './validate.ts';
export function validateFlowJson(text: string): ValidationResult {
  try {
    return validateFlow(JSON.parse(text));
  } catch (e) {
    return { valid: false, errors: [{ code: 'schema', path: '', message: String(e) }], warnings: [] };
  }
}
