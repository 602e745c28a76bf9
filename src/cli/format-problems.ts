/** Renders validation problems for people: one line each, pointing at the step and the JSON path. */
import type { FlowProblem } from '../flow/validate.ts';

/** Formats problems as `  error  dangling_target  step "menu" at /flow_steps/1/...: message`. */
export function formatProblems(errors: FlowProblem[], warnings: FlowProblem[]): string {
  const line = (level: string, p: FlowProblem) =>
    `  ${level.padEnd(7)} ${p.code.padEnd(24)} ${p.step_id === undefined ? '' : `step "${p.step_id}" `}at ${p.path || '/'}: ${p.message}`;
  return [...errors.map((p) => line('error', p)), ...warnings.map((p) => line('warning', p))].join('\n');
}
