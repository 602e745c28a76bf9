/**
 * Graph facts about a flow's steps, shared by the validator and the compiler: which steps wait for
 * input, and where each step can lead.
 */
import type { Step } from './schema.ts';

/** A step waits for input when it has conditions or is an `input` or `payment` step (FLOW_FORMAT.md). */
export function waitsForInput(step: Pick<Step, 'type' | 'conditions'>): boolean {
  return (step.conditions?.length ?? 0) > 0 || step.type === 'input' || step.type === 'payment';
}

/** One edge out of a step, with the JSON pointer (relative to the step) of the field naming it. */
export interface StepTarget {
  target: string;
  via: 'next' | 'pending' | 'retry' | 'condition' | 'fallback';
  path: string;
}

/** Every step id a step names: its connections, its conditions' targets and fallbacks. */
export function getStepTargets(step: Pick<Step, 'connections' | 'conditions'>): StepTarget[] {
  const out: StepTarget[] = [];
  for (const via of ['next', 'pending', 'retry'] as const) {
    const target = step.connections?.[via];
    if (typeof target === 'string') out.push({ target, via, path: `/connections/${via}` });
  }
  (step.conditions ?? []).forEach((c, i) => {
    if (typeof c.target_step === 'string') {
      out.push({ target: c.target_step, via: 'condition', path: `/conditions/${i}/target_step` });
    }
    if (typeof c.fallback_step === 'string') {
      out.push({ target: c.fallback_step, via: 'fallback', path: `/conditions/${i}/fallback_step` });
    }
  });
  return out;
}
