/**
 * The operator's preview and botflow's behavioural contract: runs a compiled flow in-process on a
 * virtual clock, executing effects in memory (a pretend gateway that creates charges at once, timers
 * that fire when the clock is advanced). Pure: no I/O, no real time.
 */
import { BotflowError } from '../errors.ts';
import type { AdvanceResult, PersistedConversation } from './advance-conversation.ts';
import { advanceConversation } from './advance-conversation.ts';
import type { CompiledFlow } from './compile.ts';
import type { ConversationStatus, Effect, FlowEvent } from './types.ts';

/** One input of a simulation, as read from a `--events` JSONL file or typed in the terminal. */
export type SimEvent =
  | { type: 'start'; payload?: string }
  | { type: 'text'; text: string }
  | { type: 'click'; text: string; step?: string }
  | { type: 'pay' }
  | { type: 'expire' }
  | { type: 'fail' }
  | { type: 'check_payment' }
  | { type: 'wait'; minutes: number };

/** One thing the user would see (or the runtime would do) during a simulation. */
export interface SimOutput {
  step: string | null;
  kind: 'message' | 'buttons' | 'charge' | 'access' | 'error' | 'notice';
  text?: string;
  buttons?: string[];
  amount?: number;
  description?: string;
  chat_id?: string | number;
  link?: string;
}

/** The result of a simulation run. */
export interface SimTranscript {
  outputs: SimOutput[];
  current_step: string | null;
  status: ConversationStatus;
}

interface Timer {
  due: number;
  seq: number;
  event: { type: string };
}

/** A running simulation: feed it events, read its outputs. */
export interface Simulator {
  /** Applies one input and returns what it produced. Throws `BAD_REQUEST` for an input that cannot apply. */
  apply(event: SimEvent): SimOutput[];
  /** Everything produced so far, and where the conversation stands. */
  transcript(): SimTranscript;
  /** The newest keyboard (for numbered picks in the terminal). */
  lastKeyboard(): { step: string; buttons: string[] } | null;
  /** Virtual time in ms since the simulation started. */
  now(): number;
}

/** Starts a simulation of `compiled` at virtual time 0. */
export function createSimulator(compiled: CompiledFlow): Simulator {
  let snapshot: PersistedConversation | null = null;
  let clock = 0;
  let timerSeq = 0;
  let chargeSeq = 0;
  let currentStep: string | null = null;
  let status: ConversationStatus = 'waiting';
  const timers = new Map<string, Timer>();
  const keyboards: Array<{ step: string; buttons: Array<{ text: string; url?: string }> }> = [];
  const outputs: SimOutput[] = [];

  function dispatch(event: FlowEvent, produced: SimOutput[]): void {
    const queue: FlowEvent[] = [event];
    for (let guard = 0; queue.length > 0 && guard < 1000; guard++) {
      const result: AdvanceResult = advanceConversation(compiled, snapshot, queue.shift()!);
      snapshot = result.snapshot;
      currentStep = result.currentStep;
      status = result.status;
      for (const effect of result.effects) runEffect(effect, produced, queue);
    }
  }

  function runEffect(effect: Effect, produced: SimOutput[], queue: FlowEvent[]): void {
    switch (effect.type) {
      case 'send': {
        const buttons = effect.message.buttons;
        if (buttons !== undefined) {
          keyboards.push({ step: effect.step, buttons });
          produced.push({
            step: effect.step,
            kind: 'buttons',
            text: effect.message.text,
            buttons: buttons.map((b) => b.text),
          });
        } else {
          produced.push({ step: effect.step, kind: 'message', text: effect.message.text });
        }
        break;
      }
      case 'createCharge':
        chargeSeq += 1;
        queue.push({
          type: 'payment.created',
          order: effect.order,
          charge_id: `sim-charge-${chargeSeq}`,
          br_code: `SIMULATED-PIX-${effect.order}`,
        });
        break;
      case 'sendCharge':
        produced.push({
          step: effect.step,
          kind: 'charge',
          amount: effect.amount_cents / 100,
          description: effect.description,
        });
        break;
      case 'checkCharge':
        queue.push({ type: 'payment.unpaid', order: effect.order, step: effect.step });
        break;
      case 'grantAccess':
        produced.push({
          step: effect.step,
          kind: 'access',
          ...(effect.chat_id === undefined ? {} : { chat_id: effect.chat_id }),
          ...(effect.link === undefined ? {} : { link: effect.link }),
        });
        break;
      case 'notice':
        produced.push({ step: currentStep, kind: 'notice', text: effect.text });
        break;
      case 'error':
        produced.push({ step: effect.step, kind: 'error', text: effect.text });
        break;
      case 'schedule':
        timerSeq += 1;
        timers.set(effect.id, { due: clock + effect.delay_ms, seq: timerSeq, event: effect.event });
        break;
      case 'cancel':
        timers.delete(effect.id);
        break;
    }
  }

  function currentCharge(): { order: string; step: string } | null {
    const charge = snapshot?.context.charge;
    return charge === null || charge === undefined ? null : { order: charge.order, step: charge.step };
  }

  function toFlowEvent(event: SimEvent): FlowEvent | null {
    switch (event.type) {
      case 'start':
        return event.payload === undefined ? { type: 'start' } : { type: 'start', payload: event.payload };
      case 'text':
        return { type: 'text', text: event.text };
      case 'click': {
        const board =
          event.step === undefined ? keyboards.at(-1) : keyboards.findLast((k) => k.step === event.step);
        if (board === undefined) {
          throw new BotflowError(
            'BAD_REQUEST',
            `No keyboard${event.step ? ` of step "${event.step}"` : ''} was sent`,
          );
        }
        const wanted = event.text.trim().toLowerCase();
        const index = board.buttons.findIndex((b) => b.text.trim().toLowerCase() === wanted);
        if (index < 0) {
          throw new BotflowError('BAD_REQUEST', `Step "${board.step}" has no button "${event.text}"`);
        }
        if (board.buttons[index]!.url !== undefined) return null;
        return { type: 'click', step: board.step, index };
      }
      case 'check_payment':
        return { type: 'payment.check' };
      case 'pay':
      case 'expire':
      case 'fail': {
        const charge = currentCharge();
        // A finished conversation settles nothing: a paid charge must not grant access again.
        if (charge === null || status !== 'waiting') return null;
        const type =
          event.type === 'pay'
            ? 'payment.paid'
            : event.type === 'expire'
              ? 'payment.expired'
              : 'payment.failed';
        return { type, order: charge.order, step: charge.step };
      }
      case 'wait':
        return null;
    }
  }

  function advanceClock(minutes: number, produced: SimOutput[]): void {
    const target = clock + Math.round(minutes * 60_000);
    for (;;) {
      let nextId: string | null = null;
      let next: Timer | null = null;
      for (const [id, timer] of timers) {
        if (timer.due > target) continue;
        if (next === null || timer.due < next.due || (timer.due === next.due && timer.seq < next.seq)) {
          next = timer;
          nextId = id;
        }
      }
      if (next === null || nextId === null) break;
      timers.delete(nextId);
      clock = Math.max(clock, next.due);
      dispatch(next.event as FlowEvent, produced);
    }
    clock = target;
  }

  return {
    apply(event) {
      const produced: SimOutput[] = [];
      if (event.type === 'wait') {
        advanceClock(event.minutes, produced);
      } else {
        const flowEvent = toFlowEvent(event);
        if (
          flowEvent === null &&
          (event.type === 'pay' || event.type === 'expire' || event.type === 'fail')
        ) {
          produced.push({
            step: currentStep,
            kind: 'notice',
            text:
              status === 'waiting'
                ? 'No open charge to act on.'
                : `The conversation is ${status}: no charge to act on (/start to restart).`,
          });
        } else if (flowEvent !== null) {
          dispatch(flowEvent, produced);
        }
      }
      outputs.push(...produced);
      return produced;
    },
    transcript: () => ({ outputs: [...outputs], current_step: currentStep, status }),
    lastKeyboard() {
      const board = keyboards.at(-1);
      return board === undefined ? null : { step: board.step, buttons: board.buttons.map((b) => b.text) };
    },
    now: () => clock,
  };
}
