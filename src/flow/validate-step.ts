/**
 * The rules each step keeps on its own: targets that name steps, valid conditions, exits that fit its
 * type, buttons its conditions handle, and an outcome and a price for payments. `validate-rules.ts`
 * runs them over every step, between the flow-wide rules.
 */
import type { FlowProblem, FlowProblems, ValidationCode, WarningCode } from './flow-problem.ts';
import { getStepTargets } from './graph.ts';
import { isRecord } from './is-record.ts';
import { type LooseStep, type Obj, str } from './loose-steps.ts';
import { checkConditions } from './validate-conditions.ts';

/** What the step rules need to know about the rest of the flow. */
export interface FlowFacts {
  /** The first step of each id. */
  byId: Map<string, LooseStep>;
  /** How many `main_buttons` the flow offers. */
  offers: number;
  /** The ids a payment step leads to (payment steps included). */
  paymentReach: Set<string>;
}

type Report<C> = (code: C, rel: string, message: string) => void;

/** One step under check, and where its problems go (with paths relative to the step). */
interface StepCheck {
  step: LooseStep;
  /** `access` and `end` steps finish the flow. */
  terminal: boolean;
  error: Report<ValidationCode>;
  warn: Report<WarningCode>;
}

const fold = (s: string) => s.trim().toLowerCase();

/**
 * Checks one step's own rules, appending what it finds to `out`. The checks run in a fixed order, the
 * order their problems are found in before `validateFlow` sorts them by path.
 */
export function checkStep(step: LooseStep, facts: FlowFacts, out: FlowProblems): void {
  const base = `/flow_steps/${step.index}`;
  const at = (rel: string) => `${base}${rel}`;
  const mark = (p: FlowProblem): FlowProblem => (step.id === undefined ? p : { ...p, step_id: step.id });
  const check: StepCheck = {
    step,
    terminal: step.type === 'access' || step.type === 'end',
    error: (code, rel, message) => out.errors.push(mark({ code, path: at(rel), message })),
    warn: (code, rel, message) => out.warnings.push(mark({ code, path: at(rel), message })),
  };

  for (const t of getStepTargets(step as never)) {
    if (!facts.byId.has(t.target)) check.error('dangling_target', t.path, `"${t.target}" names no step`);
  }
  checkConditions(step, check.error);
  checkExits(check);
  const buttons = Array.isArray(step.config['custom_buttons'])
    ? step.config['custom_buttons'].filter(isRecord)
    : [];
  checkConditionPlacement(check, buttons, facts.paymentReach);
  if (step.type === 'buttons') checkButtons(check, buttons, facts.offers);
  if (step.type === 'payment') checkPayment(check, facts.offers);
}

/** Checks that exits fit the step type: none on terminal steps, some on others, pending/retry on payments. */
function checkExits({ step, terminal, error }: StepCheck): void {
  if (terminal) {
    if (step.hasConnections)
      error(
        'terminal_has_exits',
        '/connections',
        `an ${step.type} step ends the flow: it has no connections`,
      );
    if (step.conditions.length > 0)
      error('terminal_has_exits', '/conditions', `an ${step.type} step ends the flow: it has no conditions`);
  }
  if (
    (step.type === 'message' || step.type === 'buttons' || step.type === 'input') &&
    step.connections.next === undefined &&
    step.conditions.length === 0
  ) {
    error('dead_end', '', `a ${step.type} step needs a "next" connection or a condition`);
  }
  if (step.type !== 'payment' && step.type !== undefined && !terminal) {
    for (const k of ['pending', 'retry'] as const) {
      if (step.connections[k] !== undefined)
        error('not_applicable', `/connections/${k}`, `"${k}" belongs to payment steps only`);
    }
  }
}

/**
 * Checks that each condition fits where it stands: button clicks on buttons steps, naming one of the
 * step's buttons, and payment statuses after a payment step.
 */
function checkConditionPlacement(
  { step, terminal, error }: StepCheck,
  buttons: Obj[],
  paymentReach: Set<string>,
): void {
  step.conditions.forEach((c, i) => {
    if (c['type'] === 'button_click' && step.type !== 'buttons' && step.type !== undefined && !terminal) {
      error('not_applicable', `/conditions/${i}`, 'button_click conditions belong to buttons steps only');
    }
    if (
      c['type'] === 'payment_status' &&
      step.type !== 'payment' &&
      step.id !== undefined &&
      !paymentReach.has(step.id) &&
      !terminal
    ) {
      error(
        'not_applicable',
        `/conditions/${i}`,
        'payment_status conditions need a payment step before them',
      );
    }
    const text = str(c['button_text']);
    if (c['type'] === 'button_click' && step.type === 'buttons' && text !== undefined && text.trim() !== '') {
      if (!buttons.some((b) => typeof b['text'] === 'string' && fold(b['text']) === fold(text))) {
        error('unknown_button', `/conditions/${i}/button_text`, `no button of this step reads "${text}"`);
      }
    }
  });
}

/** Checks a buttons step's buttons: offers that exist, and (a warning) a condition for each plain button. */
function checkButtons({ step, error, warn }: StepCheck, buttons: Obj[], offers: number): void {
  const named = new Set(
    step.conditions.flatMap((c) =>
      c['type'] === 'button_click' && typeof c['button_text'] === 'string' ? [fold(c['button_text'])] : [],
    ),
  );
  buttons.forEach((b, j) => {
    const index = b['main_button_index'];
    if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index >= offers) {
      error(
        'bad_offer_index',
        `/config/custom_buttons/${j}/main_button_index`,
        `main_buttons has no entry ${index} (it has ${offers})`,
      );
    }
    if (b['url'] === undefined && typeof b['text'] === 'string' && !named.has(fold(b['text']))) {
      warn(
        'unhandled_button',
        `/config/custom_buttons/${j}`,
        `no button_click condition handles "${b['text']}"`,
      );
    }
  });
}

/** Checks a payment step: somewhere to go once it settles, and a price to charge. */
function checkPayment({ step, error }: StepCheck, offers: number): void {
  const hasStatus = step.conditions.some((c) => c['type'] === 'payment_status');
  if (step.connections.next === undefined && step.connections.pending === undefined && !hasStatus) {
    error(
      'payment_without_outcome',
      '',
      'a payment step needs "next", "pending" or a payment_status condition',
    );
  }
  if (step.config['amount'] === undefined && offers === 0) {
    error('no_price', '/config', 'no config.amount and the flow has no main_buttons to take a price from');
  }
}
