/**
 * The flow validator: every problem of a flow at once, each `{ code, step_id?, path, message }` with
 * the codes of FLOW_FORMAT.md. Shape problems come from the schema; the rules between fields run
 * over whatever parts are well-formed, so one pass shows everything. It never throws, on any input.
 */
import { getStepTargets, waitsForInput } from './graph.ts';
import { type Flow, flowSchema, PAYMENT_STATUSES, TEXT_VALIDATIONS } from './schema.ts';

export type ValidationCode =
  | 'schema'
  | 'duplicate_step_id'
  | 'missing_start_step'
  | 'dangling_target'
  | 'invalid_condition'
  | 'unknown_button'
  | 'bad_offer_index'
  | 'payment_without_outcome'
  | 'no_price'
  | 'terminal_has_exits'
  | 'dead_end'
  | 'eventless_cycle'
  | 'not_applicable';
export type WarningCode = 'unreachable_step' | 'unhandled_button';

/** One problem, pointing into the flow with a JSON pointer. */
export interface FlowProblem {
  code: ValidationCode | WarningCode;
  step_id?: string;
  path: string;
  message: string;
}

/** Every error and warning; `flow` (with defaults applied) only when valid. */
export interface ValidationResult {
  valid: boolean;
  errors: FlowProblem[];
  warnings: FlowProblem[];
  flow?: Flow;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const fold = (s: string) => s.trim().toLowerCase();

/** Escapes one JSON pointer segment (RFC 6901). */
function segment(s: string | number): string {
  return String(s).replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A step as the rules see it: only fields of the right type, others left out. */
interface LooseStep {
  index: number;
  id: string | undefined;
  type: string | undefined;
  config: Obj;
  connections: { next?: string; pending?: string; retry?: string };
  hasConnections: boolean;
  conditions: Obj[];
  delay: number;
}

function looseSteps(flow: Obj): LooseStep[] {
  const steps = Array.isArray(flow['flow_steps']) ? flow['flow_steps'] : [];
  return steps.flatMap((raw, index): LooseStep[] => {
    if (!isObj(raw)) return [];
    const conn = isObj(raw['connections']) ? raw['connections'] : {};
    const connections: LooseStep['connections'] = {};
    for (const k of ['next', 'pending', 'retry'] as const) {
      const v = str(conn[k]);
      if (v !== undefined) connections[k] = v;
    }
    const conditions = Array.isArray(raw['conditions']) ? raw['conditions'].filter(isObj) : [];
    return [
      {
        index,
        id: str(raw['id']),
        type: str(raw['type']),
        config: isObj(raw['config']) ? raw['config'] : {},
        connections,
        hasConnections: Object.keys(conn).length > 0,
        conditions,
        delay: typeof raw['delay_seconds'] === 'number' ? raw['delay_seconds'] : 0,
      },
    ];
  });
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

/** Strongly connected components of size > 1 (or self-loops), in discovery order (Tarjan). */
function findCycles(nodes: string[], edges: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(component.reverse());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return cycles;
}

function reachableFrom(starts: string[], byId: Map<string, LooseStep>): Set<string> {
  const seen = new Set<string>();
  const queue = [...starts];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const step = byId.get(id);
    if (step === undefined) continue;
    for (const t of getStepTargets(step as never)) if (!seen.has(t.target)) queue.push(t.target);
  }
  return seen;
}

function conditionProblems(
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

function ruleProblems(flow: Obj, steps: LooseStep[]): { errors: FlowProblem[]; warnings: FlowProblem[] } {
  const errors: FlowProblem[] = [];
  const warnings: FlowProblem[] = [];
  const byId = new Map<string, LooseStep>();
  for (const step of steps) {
    if (step.id === undefined) continue;
    if (byId.has(step.id)) {
      errors.push({
        code: 'duplicate_step_id',
        step_id: step.id,
        path: `/flow_steps/${step.index}/id`,
        message: `step id "${step.id}" is used by more than one step`,
      });
    } else {
      byId.set(step.id, step);
    }
  }
  const start = str(flow['flow_start_step_id']);
  if (start !== undefined && !byId.has(start)) {
    errors.push({
      code: 'missing_start_step',
      path: '/flow_start_step_id',
      message: `no step has id "${start}"`,
    });
  }
  const offers = Array.isArray(flow['main_buttons']) ? flow['main_buttons'].length : 0;
  const paymentReach = reachableFrom(
    steps.filter((s) => s.type === 'payment' && s.id !== undefined).map((s) => s.id!),
    byId,
  );

  for (const step of steps) {
    const base = `/flow_steps/${step.index}`;
    const at = (rel: string) => `${base}${rel}`;
    const mark = (p: FlowProblem): FlowProblem => (step.id === undefined ? p : { ...p, step_id: step.id });
    const push = (code: ValidationCode, rel: string, message: string) =>
      errors.push(mark({ code, path: at(rel), message }));
    const terminal = step.type === 'access' || step.type === 'end';

    for (const t of getStepTargets(step as never)) {
      if (!byId.has(t.target)) push('dangling_target', t.path, `"${t.target}" names no step`);
    }
    conditionProblems(step, push);

    if (terminal) {
      if (step.hasConnections)
        push(
          'terminal_has_exits',
          '/connections',
          `an ${step.type} step ends the flow: it has no connections`,
        );
      if (step.conditions.length > 0)
        push('terminal_has_exits', '/conditions', `an ${step.type} step ends the flow: it has no conditions`);
    }
    if (
      (step.type === 'message' || step.type === 'buttons' || step.type === 'input') &&
      step.connections.next === undefined &&
      step.conditions.length === 0
    ) {
      push('dead_end', '', `a ${step.type} step needs a "next" connection or a condition`);
    }
    if (step.type !== 'payment' && step.type !== undefined && !terminal) {
      for (const k of ['pending', 'retry'] as const) {
        if (step.connections[k] !== undefined)
          push('not_applicable', `/connections/${k}`, `"${k}" belongs to payment steps only`);
      }
    }
    const buttons = Array.isArray(step.config['custom_buttons'])
      ? step.config['custom_buttons'].filter(isObj)
      : [];
    step.conditions.forEach((c, i) => {
      if (c['type'] === 'button_click' && step.type !== 'buttons' && step.type !== undefined && !terminal) {
        push('not_applicable', `/conditions/${i}`, 'button_click conditions belong to buttons steps only');
      }
      if (
        c['type'] === 'payment_status' &&
        step.type !== 'payment' &&
        step.id !== undefined &&
        !paymentReach.has(step.id) &&
        !terminal
      ) {
        push(
          'not_applicable',
          `/conditions/${i}`,
          'payment_status conditions need a payment step before them',
        );
      }
      const text = str(c['button_text']);
      if (
        c['type'] === 'button_click' &&
        step.type === 'buttons' &&
        text !== undefined &&
        text.trim() !== ''
      ) {
        if (!buttons.some((b) => typeof b['text'] === 'string' && fold(b['text']) === fold(text))) {
          push('unknown_button', `/conditions/${i}/button_text`, `no button of this step reads "${text}"`);
        }
      }
    });
    if (step.type === 'buttons') {
      const named = new Set(
        step.conditions.flatMap((c) =>
          c['type'] === 'button_click' && typeof c['button_text'] === 'string'
            ? [fold(c['button_text'])]
            : [],
        ),
      );
      buttons.forEach((b, j) => {
        const index = b['main_button_index'];
        if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index >= offers) {
          push(
            'bad_offer_index',
            `/config/custom_buttons/${j}/main_button_index`,
            `main_buttons has no entry ${index} (it has ${offers})`,
          );
        }
        if (b['url'] === undefined && typeof b['text'] === 'string' && !named.has(fold(b['text']))) {
          warnings.push(
            mark({
              code: 'unhandled_button',
              path: at(`/config/custom_buttons/${j}`),
              message: `no button_click condition handles "${b['text']}"`,
            }),
          );
        }
      });
    }
    if (step.type === 'payment') {
      const hasStatus = step.conditions.some((c) => c['type'] === 'payment_status');
      if (step.connections.next === undefined && step.connections.pending === undefined && !hasStatus) {
        push(
          'payment_without_outcome',
          '',
          'a payment step needs "next", "pending" or a payment_status condition',
        );
      }
      if (step.config['amount'] === undefined && offers === 0) {
        push('no_price', '/config', 'no config.amount and the flow has no main_buttons to take a price from');
      }
    }
  }

  // Steps that run without waiting form the eventless graph; a cycle there would never stop.
  const eventless = steps.filter(
    (s) => s.id !== undefined && byId.get(s.id) === s && !waitsForInput(s as never) && s.delay <= 0,
  );
  const eventlessIds = new Set(eventless.map((s) => s.id!));
  const edges = new Map<string, string[]>();
  for (const s of eventless) {
    const next = s.connections.next;
    edges.set(s.id!, next !== undefined && eventlessIds.has(next) ? [next] : []);
  }
  for (const cycle of findCycles([...eventlessIds], edges)) {
    const first = byId.get(cycle[0]!)!;
    errors.push({
      code: 'eventless_cycle',
      step_id: first.id!,
      path: `/flow_steps/${first.index}/connections/next`,
      message: `these steps loop forever without waiting for input or a delay: ${[...cycle, cycle[0]].join(' -> ')}`,
    });
  }

  if (start !== undefined && byId.has(start)) {
    const reached = reachableFrom([start], byId);
    for (const step of byId.values()) {
      if (!reached.has(step.id!)) {
        warnings.push({
          code: 'unreachable_step',
          step_id: step.id!,
          path: `/flow_steps/${step.index}`,
          message: `no path from "${start}" reaches this step`,
        });
      }
    }
  }
  return { errors, warnings };
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

/** Validates a flow. Never throws. */
export function validateFlow(input: unknown): ValidationResult {
  try {
    if (!isObj(input)) {
      return {
        valid: false,
        errors: [{ code: 'schema', path: '', message: 'a flow must be a JSON object' }],
        warnings: [],
      };
    }
    const steps = looseSteps(input);
    const rules = ruleProblems(input, steps);
    const errors = [...schemaProblems(input, steps), ...rules.errors].sort(comparePaths);
    const warnings = rules.warnings.sort(comparePaths);
    if (errors.length > 0) return { valid: false, errors, warnings };
    const parsed = flowSchema.safeParse(input);
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
