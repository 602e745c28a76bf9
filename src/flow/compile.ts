/**
 * Compiles a flow (FLOW_FORMAT.md) into an XState v5 machine whose config is plain JSON within
 * Stately's subset: state keys are step ids, every action, guard and delay is referenced by name, and
 * time is expressed as `after` transitions whose timers the runtime persists (XState does not re-arm
 * them on restore). Invalid flows never compile.
 */
import { BotflowError } from '../errors.ts';
import { waitsForInput } from './graph.ts';
import { flowSetup, INITIAL_CONTEXT, MAX_STEPS_PER_EVENT } from './machine-setup.ts';
import type { Condition, Flow, Step } from './schema.ts';
import { validateFlow } from './validate.ts';

type JsonAction = { type: string; params?: Record<string, unknown> };
type JsonGuard = { type: string; params?: Record<string, unknown> };
/** A transition in Stately's strict JSON form. */
export interface JsonTransition {
  target?: string[];
  guard?: JsonGuard;
  actions?: JsonAction[];
  reenter?: boolean;
  description?: string;
}
/** A state node in Stately's strict JSON form. */
export interface JsonStateNode {
  description?: string;
  meta?: Record<string, unknown>;
  initial?: string;
  entry?: JsonAction[];
  on?: Record<string, JsonTransition[]>;
  after?: Record<string, JsonTransition[]>;
  always?: JsonTransition[];
  states?: Record<string, JsonStateNode>;
}
/** The whole machine config: JSON, importable in Stately. */
export interface MachineJson extends JsonStateNode {
  id: string;
  version: string;
  context: Record<string, unknown>;
  options: { maxIterations: number };
}

/** A flow version ready to run: the validated flow, its machine, and the JSON it was built from. */
export interface CompiledFlow {
  flow: Flow;
  version: number;
  config: MachineJson;
  /** Named delays (ms) referenced by the config's `after` keys. */
  delays: Record<string, number>;
  machine: ReturnType<typeof buildMachine>;
  /** Steps by id, for rendering effects. */
  steps: Map<string, Step>;
}

/** Reserved state keys; step ids cannot contain `@`, so they never collide. */
export const IDLE = '@idle';
export const DISABLED = '@disabled';
export const HALTED = '@halted';

/** Safety net under the 50-step budget: XState throws instead of spinning if a loop ever slipped through. */
const MAX_ITERATIONS = MAX_STEPS_PER_EVENT * 4 + 50;

/** Builds the machine from a JSON config and its delays with the shared named implementations. */
export function buildMachine(config: MachineJson, delays: Record<string, number>) {
  // The config is JSON by construction; XState's config types cannot see that our names are registered.
  return flowSetup.extend({ delays }).createMachine(config as never);
}

/** Validates and compiles a flow. Throws `INVALID_FLOW` (with every problem in `details`) when invalid. */
export function compileFlow(input: unknown, options: { version?: number } = {}): CompiledFlow {
  const result = validateFlow(input);
  if (!result.valid || result.flow === undefined) {
    throw new BotflowError('INVALID_FLOW', `Flow is invalid (${result.errors.length} problems)`, {
      details: result.errors,
    });
  }
  const flow = result.flow;
  const version = options.version ?? 1;
  const { config, delays } = buildMachineConfig(flow, version);
  const steps = new Map(flow.flow_steps.map((s) => [s.id, s]));
  return { flow, version, config, delays, machine: buildMachine(config, delays), steps };
}

/** Produces the JSON machine config and named delays for a validated flow. */
export function buildMachineConfig(
  flow: Flow,
  version: number,
): { config: MachineJson; delays: Record<string, number> } {
  const ref = (stepId: string) => [`#${flow.id}.${stepId}`];
  const delays: Record<string, number> = {};
  const states: Record<string, JsonStateNode> = {
    [IDLE]: {
      description: 'Before the first /start.',
      on: {
        text: [{ target: ref(flow.flow_enabled ? flow.flow_start_step_id : DISABLED), actions: begin() }],
      },
    },
    [HALTED]: { description: `Stopped after ${MAX_STEPS_PER_EVENT} steps in one event; /start restarts.` },
  };
  if (!flow.flow_enabled) {
    states[DISABLED] = {
      description: 'The flow is disabled: /start only sends the welcome message.',
      entry: flow.welcome_message === undefined ? [] : [{ type: 'send', params: { step: DISABLED } }],
    };
  }
  for (const step of flow.flow_steps) {
    states[step.id] = compileStep(step, ref, delays);
  }

  const rootOn: Record<string, JsonTransition[]> = {
    start: [
      {
        target: ref(flow.flow_enabled ? flow.flow_start_step_id : DISABLED),
        reenter: true,
        actions: [...begin(), { type: 'restart' }, { type: 'keepProfile' }],
      },
    ],
    click: [
      { actions: [...begin(), notice('stale_button')], description: 'A button of another step: stale.' },
    ],
    'payment.created': [
      { guard: { type: 'isCreatingCharge' }, actions: [{ type: 'chargeCreated' }, { type: 'sendCharge' }] },
    ],
    'payment.create_failed': [
      { guard: { type: 'isCurrentCharge' }, actions: [markCharge('create_failed'), notice('charge_failed')] },
    ],
    'payment.paid': paidFallbacks(flow, ref),
    'payment.expired': [{ guard: { type: 'isCurrentCharge' }, actions: [markCharge('expired')] }],
    'payment.failed': [{ guard: { type: 'isCurrentCharge' }, actions: [markCharge('failed')] }],
    'payment.check': [
      { guard: { type: 'hasOpenCharge' }, actions: [{ type: 'checkCharge' }] },
      { actions: [notice('payment_pending')] },
    ],
    'payment.unpaid': [{ guard: { type: 'isCurrentCharge' }, actions: [notice('payment_pending')] }],
  };
  if (rootOn['payment.paid']!.length === 0) delete rootOn['payment.paid'];

  const config: MachineJson = {
    id: flow.id,
    version: String(version),
    description: flow.name ?? `Flow ${flow.id}`,
    initial: IDLE,
    context: { ...INITIAL_CONTEXT },
    options: { maxIterations: MAX_ITERATIONS },
    on: rootOn,
    states,
  };
  return { config, delays };
}

function begin(): JsonAction[] {
  return [{ type: 'beginTurn' }];
}

function notice(code: string): JsonAction {
  return { type: 'notice', params: { code } };
}

function markCharge(status: string): JsonAction {
  return { type: 'markCharge', params: { status } };
}

/** The target a paid charge of payment step `step` leads to: its first `paid` condition, else `next`. */
function paidTarget(step: Step): string | undefined {
  const cond = sortConditions(step.conditions).find(
    (c) => c.type === 'payment_status' && c.status === 'paid',
  );
  return cond?.target_step ?? step.connections?.next;
}

/**
 * Wherever the conversation stands, a paid charge of payment step P moves it to P's paid outcome,
 * once per order. Money that arrives late (after a downsell, a restart) still delivers access.
 */
function paidFallbacks(flow: Flow, ref: (id: string) => string[]): JsonTransition[] {
  const out: JsonTransition[] = [];
  for (const step of flow.flow_steps) {
    if (step.type !== 'payment') continue;
    const target = paidTarget(step);
    if (target === undefined) continue;
    out.push({
      guard: { type: 'isPaymentOf', params: { step: step.id } },
      target: ref(target),
      actions: [...begin(), markCharge('paid')],
      description: `A charge of "${step.id}" was paid.`,
    });
  }
  return out;
}

/** Conditions in evaluation order: ascending `order` (default 0), ties in array order. */
function sortConditions(conditions: Condition[] | undefined): Condition[] {
  return (conditions ?? [])
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (a.c.order ?? 0) - (b.c.order ?? 0) || a.i - b.i)
    .map(({ c }) => c);
}

/** The actions that produce a step's output when it is entered (or when its delay has passed). */
function outputActions(step: Step): JsonAction[] {
  const params = { step: step.id };
  switch (step.type) {
    case 'payment':
      return [
        { type: 'openCharge', params },
        { type: 'createCharge', params },
      ];
    case 'access':
      return [{ type: 'grantAccess', params }];
    case 'end':
      return step.config.text === undefined ? [] : [{ type: 'send', params }];
    default:
      return [{ type: 'send', params }];
  }
}

function compileStep(
  step: Step,
  ref: (id: string) => string[],
  delays: Record<string, number>,
): JsonStateNode {
  const conditions = sortConditions(step.conditions);
  const body: JsonStateNode = {};
  const after: Record<string, JsonTransition[]> = {};
  const terminal = step.type === 'access' || step.type === 'end';

  if (waitsForInput(step)) {
    body.on = inputHandlers(step, conditions, ref);
    conditions.forEach((c, i) => {
      if (c.type !== 'time_elapsed' || c.minutes === undefined) return;
      const name = `elapsed_${step.id}_${i}`;
      delays[name] = Math.round(c.minutes * 60_000);
      after[name] = [
        { target: ref(c.target_step), actions: begin(), description: `${c.minutes} min elapsed` },
      ];
    });
  } else if (!terminal && step.connections?.next !== undefined) {
    body.always = [
      {
        guard: { type: 'stepBudgetSpent', params: { max: MAX_STEPS_PER_EVENT } },
        target: ref(HALTED),
        actions: [
          { type: 'halt', params: { step: step.id } },
          { type: 'stepLimit', params: { step: step.id } },
        ],
      },
      { target: ref(step.connections.next) },
    ];
  }

  const node: JsonStateNode = {
    description: describeStep(step),
    meta: { step_type: step.type },
  };
  const entry: JsonAction[] = [{ type: 'enterStep', params: { step: step.id } }];
  if ((step.delay_seconds ?? 0) > 0) {
    const name = `delay_${step.id}`;
    delays[name] = Math.round(step.delay_seconds! * 1000);
    node.entry = entry;
    node.initial = 'delay';
    node.states = {
      delay: { after: { [name]: [{ target: ['ready'], actions: begin() }] } },
      ready: { ...body, entry: outputActions(step) },
    };
  } else {
    Object.assign(node, body);
    node.entry = [...entry, ...outputActions(step)];
  }
  if (Object.keys(after).length > 0) node.after = after;
  return node;
}

/** Transitions of a step that waits for input: its conditions, its default, and re-asking. */
function inputHandlers(
  step: Step,
  conditions: Condition[],
  ref: (id: string) => string[],
): Record<string, JsonTransition[]> {
  const on: Record<string, JsonTransition[]> = {};
  const add = (event: string, t: JsonTransition) => {
    on[event] ??= [];
    on[event].push(t);
  };
  const isPayment = step.type === 'payment';
  const next = step.connections?.next;
  const offers =
    step.type === 'buttons' ? step.config.custom_buttons.map((b) => b.main_button_index ?? null) : [];
  const recordClick: JsonAction[] = offers.some((o) => o !== null)
    ? [{ type: 'recordClick', params: { offers } }]
    : [];

  for (const c of conditions) {
    const target = ref(c.target_step);
    if (c.type === 'text_validation' && c.validation !== undefined) {
      const params =
        c.value === undefined ? { validation: c.validation } : { validation: c.validation, value: c.value };
      // A validated e-mail or phone is kept for Meta's em / ph (issue 18).
      const keep: JsonAction[] =
        c.validation === 'email' || c.validation === 'phone'
          ? [{ type: 'keepAnswer', params: { field: c.validation } }]
          : [];
      add('text', { guard: { type: 'textMatches', params }, target, actions: [...begin(), ...keep] });
    } else if (c.type === 'button_click' && step.type === 'buttons' && c.button_text !== undefined) {
      const wanted = c.button_text.trim().toLowerCase();
      const index = step.config.custom_buttons.findIndex((b) => b.text.trim().toLowerCase() === wanted);
      add('click', {
        guard: { type: 'isButton', params: { step: step.id, index } },
        target,
        actions: [...begin(), ...recordClick],
      });
    } else if (c.type === 'payment_status' && c.status !== undefined) {
      const event = c.status === 'pending' ? 'payment.unpaid' : `payment.${c.status}`;
      const actions = c.status === 'pending' ? begin() : [...begin(), markCharge(c.status)];
      add(event, { guard: { type: 'isCurrentCharge' }, target, actions });
    }
  }

  if (isPayment) {
    if (next !== undefined) {
      add('payment.paid', {
        guard: { type: 'isCurrentCharge' },
        target: ref(next),
        actions: [...begin(), markCharge('paid')],
      });
    }
    const pending = step.connections?.pending;
    if (pending !== undefined) {
      for (const status of ['expired', 'failed'] as const) {
        add(`payment.${status}`, {
          guard: { type: 'isCurrentCharge' },
          target: ref(pending),
          actions: [...begin(), markCharge(status)],
        });
      }
    }
    const retry = step.connections?.retry;
    if (retry !== undefined) {
      add('payment.create_failed', {
        guard: { type: 'isCurrentCharge' },
        target: ref(retry),
        actions: [...begin(), markCharge('create_failed')],
      });
    }
    // Text while a charge is open is not an answer: remind, change nothing.
    add('text', { actions: [...begin(), notice('awaiting_payment')] });
    return on;
  }

  const exhausted = conditions.find((c) => c.max_attempts !== undefined && c.fallback_step !== undefined);
  const noMatch = (): JsonTransition[] => {
    if (next !== undefined) return [{ target: ref(next), actions: begin() }];
    const out: JsonTransition[] = [];
    if (exhausted !== undefined) {
      out.push({
        guard: { type: 'attemptsReached', params: { max: exhausted.max_attempts } },
        target: ref(exhausted.fallback_step!),
        actions: begin(),
      });
    }
    out.push({ actions: [...begin(), { type: 'countAttempt' }, ...reprompt(step)] });
    return out;
  };
  for (const t of noMatch()) add('text', t);
  if (step.type === 'buttons') {
    for (const t of noMatch()) {
      add('click', {
        ...t,
        guard: t.guard ?? { type: 'isStepButton', params: { step: step.id } },
        actions: [...(t.actions ?? []), ...recordClick],
      });
    }
    // attemptsReached must also only count this step's buttons: chain the two guards by order.
    for (const t of on['click'] ?? []) {
      if (t.guard?.type === 'attemptsReached') {
        t.guard = { type: 'attemptsReachedOnButton', params: { ...t.guard.params, step: step.id } };
      }
    }
  }
  return on;
}

/** What re-asking a step sends: its prompt again. */
function reprompt(step: Step): JsonAction[] {
  return step.type === 'end' || step.type === 'access' ? [] : [{ type: 'send', params: { step: step.id } }];
}

function describeStep(step: Step): string {
  const text = 'text' in step.config && typeof step.config.text === 'string' ? step.config.text : '';
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return short === '' ? `${step.type} step` : `${step.type}: ${short}`;
}
