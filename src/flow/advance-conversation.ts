/**
 * The pure step of a conversation: (compiled flow, persisted snapshot, event) -> (next persisted
 * snapshot, effects). No I/O, no clocks: timers come out as `schedule`/`cancel` effects and come back
 * as events. The actor runtime and the simulator both run exactly this function.
 */
import { type AnyActorScope, createActor } from 'xstate';
import { collectEffects } from './collect-effects.ts';
import type { CompiledFlow } from './compile.ts';
import { DISABLED, HALTED, IDLE } from './compile.ts';
import type { BuyerFacts, FlowContext } from './machine-setup.ts';
import { hashId } from './hash-id.ts';
import type { ButtonCallback, ConversationStatus, Effect, FlowEvent } from './types.ts';

/** What is stored for a conversation: XState's persisted form (`getPersistedSnapshot`), JSON only. */
export interface PersistedConversation {
  status: string;
  value: string | Record<string, string>;
  context: FlowContext;
  [key: string]: unknown;
}

/** The outcome of one event. */
export interface AdvanceResult {
  snapshot: PersistedConversation;
  effects: Effect[];
  /** The step the conversation stands at (null before /start or when the flow is disabled). */
  currentStep: string | null;
  status: ConversationStatus;
  /** True when the stored snapshot did not resolve against this flow version and the conversation restarted. */
  restarted: boolean;
  /** The steps this event entered, in order (a step entered twice is listed twice): the funnel's counts. */
  enteredSteps: string[];
}

type Snapshot = ReturnType<CompiledFlow['machine']['resolveState']>;

/** The step a snapshot stands at: the top-level state key, or where it halted. */
export function getCurrentStep(value: unknown, context: FlowContext): string | null {
  const key = typeof value === 'string' ? value : Object.keys(value as object)[0];
  if (key === HALTED) return context.halted;
  if (key === undefined || key === IDLE || key === DISABLED) return null;
  return key;
}

/** Whether the conversation waits for input, is finished, or stopped on an error. */
export function getConversationStatus(compiled: CompiledFlow, value: unknown): ConversationStatus {
  const key = typeof value === 'string' ? value : Object.keys(value as object)[0];
  if (key === HALTED) return 'error';
  if (key === DISABLED) return 'done';
  const step = key === undefined ? undefined : compiled.steps.get(key);
  if (step !== undefined && (step.type === 'access' || step.type === 'end')) return 'done';
  return 'waiting';
}

function restore(compiled: CompiledFlow, persisted: PersistedConversation): Snapshot | null {
  if (typeof persisted !== 'object' || persisted === null || persisted.status !== 'active') return null;
  if (typeof persisted.context !== 'object' || persisted.context === null) return null;
  try {
    return compiled.machine.resolveState({ value: persisted.value, context: persisted.context });
  } catch {
    return null;
  }
}

/** XState's persisted form, without the `undefined` fields JSON would drop anyway. */
function persist(compiled: CompiledFlow, snapshot: Snapshot): PersistedConversation {
  const persisted = compiled.machine.getPersistedSnapshot(snapshot) as unknown as PersistedConversation;
  for (const key of Object.keys(persisted)) if (persisted[key] === undefined) delete persisted[key];
  return persisted;
}

interface ReusedScope {
  scope: AnyActorScope;
  actions: unknown[];
}
const scopes = new WeakMap<CompiledFlow['machine'], ReusedScope>();
type ExecutedAction = { type: string; params?: unknown; info?: { context?: unknown } };

/**
 * One never started actor per compiled machine, serving as the scope of its pure transitions instead
 * of a fresh inert actor and system per call (what `transition()` and `initialTransition()` build).
 * Safe because flows use no invoke/spawn/systemId, and calls are synchronous.
 */
function scopeOf(compiled: CompiledFlow): ReusedScope {
  let reused = scopes.get(compiled.machine);
  if (reused === undefined) {
    const self = createActor(compiled.machine);
    const holder: ReusedScope = { scope: undefined as never, actions: [] };
    holder.scope = {
      self,
      system: self.system,
      defer: () => {},
      emit: () => {},
      stopChild: () => {},
      logger: () => {},
      id: '',
      sessionId: '',
      actionExecutor: (action: unknown) => {
        holder.actions.push(action);
      },
    } as unknown as AnyActorScope;
    reused = holder;
    scopes.set(compiled.machine, reused);
  }
  return reused;
}

/** Runs `step` in the machine's reused scope and returns what it made with the actions it executed. */
function inScope<T>(compiled: CompiledFlow, step: (scope: AnyActorScope) => T): [T, ExecutedAction[]] {
  const reused = scopeOf(compiled);
  reused.actions = [];
  const made = step(reused.scope);
  const actions = reused.actions as ExecutedAction[];
  reused.actions = [];
  return [made, actions];
}

/**
 * XState's pure `transition()` in the machine's reused scope (3-4x faster, measured when this was
 * written). Pinned to xstate 5.33.3; test/flow/advance-conversation.test.ts checks it against `transition()`.
 */
export function fastTransition(
  compiled: CompiledFlow,
  snapshot: Snapshot,
  event: FlowEvent,
): [Snapshot, ExecutedAction[]] {
  return inScope(
    compiled,
    (scope) => compiled.machine.transition(snapshot, event, scope as never) as Snapshot,
  );
}

/**
 * XState's pure `initialTransition()` in the machine's reused scope: building the inert actor was most
 * of a new conversation's start (a fifth of XState's share of a worker's profile). Checked against
 * `initialTransition()` in the same test.
 */
export function fastInitialTransition(compiled: CompiledFlow): [Snapshot, ExecutedAction[]] {
  return inScope(compiled, (scope) => compiled.machine.getInitialSnapshot(scope as never) as Snapshot);
}

/** The press that only the stale-button path handles: no step has the id `''`. */
const STALE_STEP = '';

/** Per compiled version: its flow's tag and its step ids by tag (null: a tag two steps share). */
const stepTags = new WeakMap<CompiledFlow, { flow: string; steps: Map<string, string | null> }>();

/**
 * The step a Telegram button names, when it was rendered for this very flow version: the flow tag
 * (when the data has one) and the version must be this version's, and exactly one of its steps must
 * have the step tag. Null otherwise: the button belongs to another flow or version, or to no step.
 */
function stepOfCallback(compiled: CompiledFlow, callback: ButtonCallback): string | null {
  if (callback.version !== compiled.version) return null;
  let tags = stepTags.get(compiled);
  if (tags === undefined) {
    tags = { flow: hashId(compiled.flow.id), steps: new Map() };
    // Two steps with one tag are both refused: a press must name exactly one step.
    for (const id of compiled.steps.keys()) {
      const tag = hashId(id);
      tags.steps.set(tag, tags.steps.has(tag) ? null : id);
    }
    stepTags.set(compiled, tags);
  }
  if (callback.flow !== null && callback.flow !== tags.flow) return null;
  return tags.steps.get(callback.step) ?? null;
}

/**
 * A click resolved against the conversation's flow version: a button rendered for another flow or
 * version, or naming a step, a button or a link button this version does not have, becomes the stale
 * press (answered with the stale notice, never charged); any other event is returned unchanged.
 */
export function resolveClick(compiled: CompiledFlow, event: FlowEvent): FlowEvent {
  if (event.type !== 'click') return event;
  const stepId = event.callback === undefined ? event.step : stepOfCallback(compiled, event.callback);
  const step = stepId === null ? undefined : compiled.steps.get(stepId);
  const button =
    step?.type === 'buttons' && Number.isInteger(event.index) && event.index >= 0
      ? step.config.custom_buttons[event.index]
      : undefined;
  if (stepId !== null && button !== undefined && button.url === undefined) {
    return { type: 'click', step: stepId, index: event.index };
  }
  return { type: 'click', step: STALE_STEP, index: event.index };
}

/** A fresh conversation, before its first event. */
export function startConversation(compiled: CompiledFlow): PersistedConversation {
  const [snapshot] = fastInitialTransition(compiled);
  return persist(compiled, snapshot);
}

/**
 * Applies one event. A snapshot that no longer resolves against this flow version restarts the
 * conversation from its start step (FLOW_FORMAT.md, "Runtime rules"); the event that found it so is
 * then treated as `/start` (its payload kept if it was one). A click is resolved against this version
 * first (`resolveClick`): a button of another flow, version or step is stale, whatever its step says.
 * What the buyer told the bot survives a restart: the stored snapshot's `buyer`, or `carried` (the
 * facts of the conversation's previous flow version), seeds the fresh one.
 */
export function advanceConversation(
  compiled: CompiledFlow,
  persisted: PersistedConversation | null,
  event: FlowEvent,
  carried?: BuyerFacts,
): AdvanceResult {
  let snapshot = persisted === null ? null : restore(compiled, persisted);
  const restarted = persisted !== null && snapshot === null;
  if (snapshot === null) snapshot = fastInitialTransition(compiled)[0];
  const input: FlowEvent =
    restarted && event.type !== 'start' ? { type: 'start' } : resolveClick(compiled, event);
  const [next, actions] = fastTransition(compiled, snapshot, input);
  const context = next.context as FlowContext;
  const stored = persist(compiled, next);
  const kept = restarted ? persisted?.context?.buyer : persisted === null ? carried : undefined;
  if (kept !== undefined) stored.context = { ...stored.context, buyer: { ...kept, ...stored.context.buyer } };
  return {
    snapshot: stored,
    effects: collectEffects(compiled, actions, input),
    currentStep: getCurrentStep(next.value, context),
    status: next.status === 'error' ? 'error' : getConversationStatus(compiled, next.value),
    restarted,
    enteredSteps: actions.flatMap((a) =>
      a.type === 'stepEntered' ? [(a.params as { step: string }).step] : [],
    ),
  };
}
