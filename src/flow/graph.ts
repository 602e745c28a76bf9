// TEMP (replaced by the validator branch)
import type { Step } from './schema.ts';
export function waitsForInput(step: Step): boolean {
  return (step.conditions?.length ?? 0) > 0 || step.type === 'input' || step.type === 'payment';
}
