/**
 * The named implementations every compiled flow machine refers to. Machine configs stay plain JSON
 * (Stately's subset); behaviour lives here, generic over params. Effect actions are no-ops: the pure
 * `transition()` returns them as data and `collectEffects` turns them into `Effect`s for the runtime.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { TextValidation } from './schema.ts';
import { matchesTextValidation } from './text-validation.ts';
import type { FlowEvent } from './types.ts';

/** The current PIX charge of a conversation, as far as the flow needs to know it. */
export interface ChargeRef {
  /** Order id, `<step>:<n>`, unique within the conversation. */
  order: string;
  step: string;
  status: 'creating' | 'pending' | 'paid' | 'expired' | 'failed' | 'create_failed';
  charge_id: string | null;
}

/**
 * What the buyer told the bot: answers to steps validated as `email` or `phone`, and the Telegram
 * names when the bot's pixel asks for them. Committed with the snapshot; Meta events carry them hashed.
 */
export interface BuyerFacts {
  email?: string;
  phone?: string;
  first_name?: string;
  last_name?: string;
}

/** A conversation's extended state: small, flat, JSON only (it is persisted with every commit). */
export interface FlowContext {
  /** Non-matching inputs on the current step. */
  attempts: number;
  /** Steps entered during the current event (the 50-step guard). */
  steps: number;
  /** `main_buttons` index chosen by the last offer button clicked, if any. */
  offer: number | null;
  /** Charges opened so far (makes order ids unique). */
  seq: number;
  charge: ChargeRef | null;
  /** Orders already paid: a paid order moves the conversation once, however often it is reported. */
  paid: string[];
  /** The step where the conversation stopped after running out of its step budget. */
  halted: string | null;
  /** What the buyer told the bot (absent until they do; snapshots from before lack it). */
  buyer?: BuyerFacts;
}

/** The most steps that may run for one event (FLOW_FORMAT.md, "Runtime rules"). */
export const MAX_STEPS_PER_EVENT = 50;

export const INITIAL_CONTEXT: FlowContext = {
  attempts: 0,
  steps: 0,
  offer: null,
  seq: 0,
  charge: null,
  paid: [],
  halted: null,
};

type Args = { context: FlowContext; event: FlowEvent };

function eventOrder(event: FlowEvent): string | undefined {
  return 'order' in event ? event.order : undefined;
}

const noop = () => {};

/** The base setup shared by all compiled flows; `compileFlow` extends it with the flow's delays. */
export const flowSetup = setup({
  types: {} as { context: FlowContext; events: FlowEvent },
  actions: {
    beginTurn: assign({ steps: 0 }),
    // Counts the step against the turn's budget, and marks the entry (`stepEntered`, a no-op the
    // runtime sees among the transition's actions) for the funnel's step counts.
    // (Cast: xstate's types cannot check an enqueueActions inside the setup that names its actions.)
    enterStep: enqueueActions(({ enqueue }, params: unknown) => {
      enqueue.assign(({ context }: Args) => ({ steps: context.steps + 1, attempts: 0 }));
      enqueue({ type: 'stepEntered', params } as never);
    }) as never,
    stepEntered: noop,
    restart: assign({ attempts: 0, offer: null, halted: null }),
    countAttempt: assign(({ context }: Args) => ({ attempts: context.attempts + 1 })),
    recordClick: assign(({ event }: Args, params: { offers: Array<number | null> }) => {
      if (event.type !== 'click') return {};
      const offer = params.offers[event.index];
      return offer === null || offer === undefined ? {} : { offer };
    }),
    openCharge: assign(({ context }: Args, params: { step: string }) => ({
      seq: context.seq + 1,
      charge: {
        order: `${params.step}:${context.seq + 1}`,
        step: params.step,
        status: 'creating',
        charge_id: null,
      },
    })),
    chargeCreated: assign(({ context, event }: Args) => {
      if (event.type !== 'payment.created' || context.charge?.order !== event.order) return {};
      return { charge: { ...context.charge, status: 'pending', charge_id: event.charge_id } };
    }),
    markCharge: assign(({ context, event }: Args, params: { status: ChargeRef['status'] }) => {
      const order = eventOrder(event);
      if (order === undefined) return {};
      const charge =
        context.charge?.order === order ? { ...context.charge, status: params.status } : context.charge;
      const paid =
        params.status === 'paid' && !context.paid.includes(order) ? [...context.paid, order] : context.paid;
      return { charge, paid };
    }),
    halt: assign((_: Args, params: { step: string }) => ({ halted: params.step })),
    keepAnswer: assign(({ context, event }: Args, params: { field: 'email' | 'phone' }) =>
      event.type === 'text' ? { buyer: { ...context.buyer, [params.field]: event.text.trim() } } : {},
    ),
    keepProfile: assign(({ context, event }: Args) => {
      if (event.type !== 'start' || event.profile === undefined) return {};
      const { first_name, last_name } = event.profile;
      return {
        buyer: {
          ...context.buyer,
          ...(first_name === undefined ? {} : { first_name }),
          ...(last_name === undefined ? {} : { last_name }),
        },
      };
    }),
    // Effects: returned as data by transition(), executed by the runtime after commit.
    send: noop,
    createCharge: noop,
    sendCharge: noop,
    checkCharge: noop,
    grantAccess: noop,
    notice: noop,
    stepLimit: noop,
  },
  guards: {
    textMatches: ({ event }: Args, params: { validation: TextValidation; value?: string }) =>
      event.type === 'text' && matchesTextValidation(params.validation, params.value, event.text),
    isButton: ({ event }: Args, params: { step: string; index: number }) =>
      event.type === 'click' && event.step === params.step && event.index === params.index,
    isStepButton: ({ event }: Args, params: { step: string }) =>
      event.type === 'click' && event.step === params.step,
    attemptsReached: ({ context }: Args, params: { max: number }) => context.attempts + 1 >= params.max,
    attemptsReachedOnButton: ({ context, event }: Args, params: { max: number; step: string }) =>
      event.type === 'click' && event.step === params.step && context.attempts + 1 >= params.max,
    isCurrentCharge: ({ context, event }: Args) => {
      const order = eventOrder(event);
      return order !== undefined && context.charge?.order === order && !context.paid.includes(order);
    },
    isPaymentOf: ({ context, event }: Args, params: { step: string }) => {
      const order = eventOrder(event);
      return (
        order !== undefined && 'step' in event && event.step === params.step && !context.paid.includes(order)
      );
    },
    // A charge's creation result only matters while it is being created: a webhook can settle the order first.
    isCreatingCharge: ({ context, event }: Args) =>
      event.type === 'payment.created' &&
      context.charge?.order === event.order &&
      context.charge.status === 'creating',
    hasOpenCharge: ({ context }: Args) =>
      context.charge !== null &&
      (context.charge.status === 'pending' || context.charge.status === 'creating'),
    stepBudgetSpent: ({ context }: Args, params: { max: number }) => context.steps >= params.max,
  },
});

/** Names of the actions whose execution is the runtime's job (the rest are context updates). */
export const EFFECT_ACTIONS = new Set([
  'send',
  'createCharge',
  'sendCharge',
  'checkCharge',
  'grantAccess',
  'notice',
  'stepLimit',
]);
