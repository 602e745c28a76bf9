/**
 * The rules between the fields of a flow (FLOW_FORMAT.md), run over whatever parts are well-formed:
 * unique step ids, a start step that exists, each step's own rules, loops that never wait, and steps
 * nothing reaches.
 */
import { findCycles, findReachable } from './flow-graph.ts';
import type { FlowProblem, FlowProblems } from './flow-problem.ts';
import { waitsForInput } from './graph.ts';
import { type LooseStep, type Obj, str } from './loose-steps.ts';
import { checkStep } from './validate-step.ts';

/**
 * Checks every rule between fields of a flow. The checks run in a fixed order, which is the order
 * their problems are reported in before `validateFlow` sorts them by path.
 */
export function checkRules(flow: Obj, steps: LooseStep[]): FlowProblems {
  const errors: FlowProblem[] = [];
  const warnings: FlowProblem[] = [];
  const byId = indexStepIds(steps, errors);
  const start = str(flow['flow_start_step_id']);
  if (start !== undefined && !byId.has(start)) {
    errors.push({
      code: 'missing_start_step',
      path: '/flow_start_step_id',
      message: `no step has id "${start}"`,
    });
  }
  const offers = Array.isArray(flow['main_buttons']) ? flow['main_buttons'].length : 0;
  const paymentReach = findReachable(
    steps.filter((s) => s.type === 'payment' && s.id !== undefined).map((s) => s.id!),
    byId,
  );
  for (const step of steps) checkStep(step, { byId, offers, paymentReach }, { errors, warnings });
  checkEventlessCycles(steps, byId, errors);
  if (start !== undefined && byId.has(start)) checkReachability(start, byId, warnings);
  return { errors, warnings };
}

/** Indexes the steps by id, keeping the first of each; every later one is a `duplicate_step_id`. */
function indexStepIds(steps: LooseStep[], errors: FlowProblem[]): Map<string, LooseStep> {
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
  return byId;
}

/**
 * Checks for loops among the steps that run without waiting for input or a delay (the eventless
 * graph): such a loop would never stop.
 */
function checkEventlessCycles(steps: LooseStep[], byId: Map<string, LooseStep>, errors: FlowProblem[]): void {
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
}

/** Warns of each step no path from the start step reaches: it can never run. */
function checkReachability(start: string, byId: Map<string, LooseStep>, warnings: FlowProblem[]): void {
  const reached = findReachable([start], byId);
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
