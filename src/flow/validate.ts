// TEMP (replaced by the validator branch)
import { type Flow, flowSchema } from './schema.ts';
export interface FlowProblem {
  code: string;
  step_id?: string;
  path: string;
  message: string;
}
export interface ValidationResult {
  valid: boolean;
  errors: FlowProblem[];
  warnings: FlowProblem[];
  flow?: Flow;
}
export function validateFlow(input: unknown): ValidationResult {
  const r = flowSchema.safeParse(input);
  if (r.success) return { valid: true, errors: [], warnings: [], flow: r.data };
  return {
    valid: false,
    errors: r.error.issues.map((i) => ({ code: 'schema', path: '/' + i.path.join('/'), message: i.message })),
    warnings: [],
  };
}
