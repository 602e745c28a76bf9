/**
 * The flow validator: every problem of a flow at once, each `{ code, step_id?, path, message }` with
 * the codes of FLOW_FORMAT.md. Shape problems come from the schema; the rules between fields
 * (`validate-rules.ts`) run over whatever parts are well-formed, so one pass shows everything. It never
 * throws, on any input.
 */
import type { FlowProblem } from './flow-problem.ts';
import { isRecord } from './is-record.ts';
import { type LooseStep, type Obj, readLooseSteps } from './loose-steps.ts';
import { findDeepNesting } from './find-deep-nesting.ts';
import { type Flow, flowSchema, MAX_FLOW_STEPS } from './schema.ts';
import { checkRules } from './validate-rules.ts';

export type { FlowProblem, ValidationCode, WarningCode } from './flow-problem.ts';

/** Every error and warning; `flow` (with defaults applied) only when valid. */
export interface ValidationResult {
  valid: boolean;
  errors: FlowProblem[];
  warnings: FlowProblem[];
  flow?: Flow;
}

/** Escapes one JSON pointer segment (RFC 6901). */
function segment(s: string | number): string {
  return String(s).replaceAll('~', '~0').replaceAll('/', '~1');
}

function schemaProblems(input: unknown, steps: LooseStep[]): FlowProblem[] {
  const parsed = flowSchema.safeParse(input);
  if (parsed.success) return [];
  const problems: FlowProblem[] = [];
  for (const issue of parsed.error.issues) {
    const path = issue.path.map((p) => `/${segment(p as string | number)}`).join('');
    const stepIndex =
      issue.path[0] === 'flow_steps' && typeof issue.path[1] === 'number' ? issue.path[1] : -1;
    const stepId = steps.find((s) => s.index === stepIndex)?.id;
    const base = stepId === undefined ? {} : { step_id: stepId };
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({
          code: 'schema',
          ...base,
          path: `${path}/${segment(key)}`,
          message: `unknown field "${key}"`,
        });
      }
    } else {
      problems.push({ code: 'schema', ...base, path, message: issue.message });
    }
  }
  return problems;
}

function comparePaths(a: FlowProblem, b: FlowProblem): number {
  const pa = a.path.split('/');
  const pb = b.path.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = Number(pa[i]);
    const nb = Number(pb[i]);
    if (pa[i] !== '' && pb[i] !== '' && Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
    return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
}

/** Deeper than any valid flow nests (a button of a step is at level 6): refused before any other check. */
const MAX_FLOW_DEPTH = 32;

/**
 * The problems that stop validation before it starts, each reported alone: not an object, more steps
 * than allowed (a huge flow costs no rule checks, whatever its size), nesting deeper than any flow.
 */
function refuseOutright(input: unknown): FlowProblem | null {
  if (!isRecord(input)) return { code: 'schema', path: '', message: 'a flow must be a JSON object' };
  const steps = input['flow_steps'];
  if (Array.isArray(steps) && steps.length > MAX_FLOW_STEPS)
    return {
      code: 'schema',
      path: '/flow_steps',
      message: `a flow has at most ${MAX_FLOW_STEPS} steps; this one has ${steps.length}`,
    };
  const deep = findDeepNesting(input, MAX_FLOW_DEPTH);
  if (deep !== null)
    return {
      code: 'schema',
      path: deep,
      message: `the flow nests deeper than ${MAX_FLOW_DEPTH} levels here`,
    };
  return null;
}

/** Validates a flow. Never throws. */
export function validateFlow(input: unknown): ValidationResult {
  try {
    const refused = refuseOutright(input);
    if (refused !== null) return { valid: false, errors: [refused], warnings: [] };
    const flow = input as Obj;
    const steps = readLooseSteps(flow);
    const rules = checkRules(flow, steps);
    const errors = [...schemaProblems(flow, steps), ...rules.errors].sort(comparePaths);
    const warnings = rules.warnings.sort(comparePaths);
    if (errors.length > 0) return { valid: false, errors, warnings };
    const parsed = flowSchema.safeParse(flow);
    return parsed.success
      ? { valid: true, errors, warnings, flow: parsed.data }
      : {
          valid: false,
          errors: [{ code: 'schema', path: '', message: 'the flow does not match the format' }],
          warnings,
        };
  } catch (error) {
    return {
      valid: false,
      errors: [
        {
          code: 'schema',
          path: '',
          message: `the flow could not be read (${(error as Error)?.message ?? 'unknown'})`,
        },
      ],
      warnings: [],
    };
  }
}
