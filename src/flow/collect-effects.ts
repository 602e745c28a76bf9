/**
 * Turns the actions a pure XState `transition()` returned into botflow `Effect`s: what to send, which
 * charge to open at which price, which access to grant, which durable timers to start or cancel.
 * Content comes from the flow version, so machine configs stay small and Stately-readable.
 */
import type { CompiledFlow } from './compile.ts';
import { DISABLED } from './compile.ts';
import type { FlowContext } from './machine-setup.ts';
import { EFFECT_ACTIONS } from './machine-setup.ts';
import type { Flow, Step } from './schema.ts';
import type { Effect, FlowEvent, NoticeCode, OutMessage } from './types.ts';

/** The slice of an XState executable action this module reads. */
export interface ActionLike {
  type: string;
  params?: unknown;
  info?: { context?: unknown; event?: unknown };
}

/** Default texts of notices (Brazilian Portuguese: the buyers are in Brazil). */
export const NOTICE_TEXTS: Record<NoticeCode, string> = {
  stale_button: 'Esse botão não está mais ativo.',
  payment_pending: 'Ainda não identificamos o seu pagamento. Assim que ele for confirmado, avisaremos aqui.',
  awaiting_payment: 'Estamos aguardando o pagamento do PIX enviado acima.',
  charge_failed: 'Não foi possível gerar o PIX agora. Tente novamente em instantes.',
  flow_disabled: 'Este bot está temporariamente indisponível.',
  conversation_ended: 'Esta conversa terminou. Envie /start para recomeçar.',
};

const STEP_LIMIT_TEXT = 'Ops! Algo deu errado neste fluxo. Envie /start para recomeçar.';

/** Price and description of a payment step: the step's own, else the chosen offer's, else the first offer's. */
export function resolvePrice(
  flow: Flow,
  step: Step,
  offer: number | null,
): { amount_cents: number; description: string; offer: number | null } {
  const config = step.type === 'payment' ? step.config : {};
  const offers = flow.main_buttons ?? [];
  const chosenIndex = offer !== null && offer < offers.length ? offer : offers.length > 0 ? 0 : null;
  const chosen = chosenIndex === null ? undefined : offers[chosenIndex];
  const amount = 'amount' in config && config.amount !== undefined ? config.amount : chosen?.price;
  const description =
    ('description' in config ? config.description : undefined) ??
    chosen?.description ??
    chosen?.text ??
    step.id;
  return {
    amount_cents: Math.round((amount ?? 0) * 100),
    description,
    offer: 'amount' in config && config.amount !== undefined ? null : chosenIndex,
  };
}

/** Renders the message a step sends. */
function messageOf(flow: Flow, step: Step): OutMessage | null {
  switch (step.type) {
    case 'message': {
      const { text, media_url, media_type, parse_mode } = step.config;
      return {
        text,
        ...(parse_mode === undefined ? {} : { parse_mode }),
        ...(media_url === undefined || media_type === undefined
          ? {}
          : { media: { url: media_url, type: media_type } }),
      };
    }
    case 'buttons':
      return {
        text: step.config.text,
        buttons: step.config.custom_buttons.map((b, index) => ({
          text: b.text,
          index,
          ...(b.url === undefined ? {} : { url: b.url }),
        })),
      };
    case 'input':
      return { text: step.config.text };
    case 'end':
      return step.config.text === undefined ? null : { text: step.config.text };
    default:
      void flow;
      return null;
  }
}

function stepParam(params: unknown): string {
  return typeof params === 'object' && params !== null && 'step' in params ? String(params.step) : '';
}

/** Maps one transition's actions to effects, in order. Unknown or context-only actions yield nothing. */
export function collectEffects(
  compiled: CompiledFlow,
  actions: readonly ActionLike[],
  event: FlowEvent,
): Effect[] {
  const effects: Effect[] = [];
  const { flow, steps } = compiled;
  for (const action of actions) {
    if (action.type === 'xstate.raise') {
      const p = action.params as { delay?: number; id?: string; event?: { type: string } };
      if (typeof p.delay === 'number' && p.id !== undefined && p.event !== undefined) {
        effects.push({ type: 'schedule', id: p.id, delay_ms: p.delay, event: { type: p.event.type } });
      }
      continue;
    }
    if (action.type === 'xstate.cancel') {
      const p = action.params as { sendId?: string };
      if (p.sendId !== undefined) effects.push({ type: 'cancel', id: p.sendId });
      continue;
    }
    if (!EFFECT_ACTIONS.has(action.type)) continue;
    const context = (action.info?.context ?? {}) as FlowContext;
    const stepId = stepParam(action.params);
    const step = steps.get(stepId);
    switch (action.type) {
      case 'send': {
        if (stepId === DISABLED) {
          if (flow.welcome_message !== undefined) {
            effects.push({ type: 'send', step: DISABLED, message: { text: flow.welcome_message } });
          }
          break;
        }
        const message = step === undefined ? null : messageOf(flow, step);
        if (message !== null) effects.push({ type: 'send', step: stepId, flow: flow.id, message });
        break;
      }
      case 'createCharge': {
        if (step === undefined || context.charge === null) break;
        const price = resolvePrice(flow, step, context.offer);
        const expires = step.type === 'payment' ? (step.config.expires_in_minutes ?? 30) : 30;
        effects.push({
          type: 'createCharge',
          step: stepId,
          order: context.charge.order,
          amount_cents: price.amount_cents,
          description: price.description,
          expires_in_minutes: expires,
          offer: price.offer,
        });
        break;
      }
      case 'sendCharge': {
        if (event.type !== 'payment.created' || context.charge?.order !== event.order) break;
        const chargeStep = steps.get(context.charge.step);
        if (chargeStep === undefined) break;
        const price = resolvePrice(flow, chargeStep, context.offer);
        effects.push({
          type: 'sendCharge',
          step: chargeStep.id,
          order: event.order,
          charge_id: event.charge_id,
          br_code: event.br_code,
          amount_cents: price.amount_cents,
          description: price.description,
        });
        break;
      }
      case 'checkCharge':
        if (context.charge !== null) {
          effects.push({ type: 'checkCharge', step: context.charge.step, order: context.charge.order });
        }
        break;
      case 'grantAccess': {
        if (step === undefined || step.type !== 'access') break;
        const { chat_id, link, access_days } = step.config;
        const order = context.paid.at(-1) ?? null;
        const offerDays =
          context.offer === null ? undefined : flow.main_buttons?.[context.offer]?.access_days;
        const days = access_days ?? offerDays;
        effects.push({
          type: 'grantAccess',
          step: stepId,
          order,
          ...(chat_id === undefined ? {} : { chat_id }),
          ...(link === undefined ? {} : { link }),
          ...(days === undefined ? {} : { access_days: days }),
        });
        break;
      }
      case 'notice': {
        const code = (action.params as { code: NoticeCode }).code;
        effects.push({ type: 'notice', step: null, code, text: NOTICE_TEXTS[code] });
        break;
      }
      case 'stepLimit':
        effects.push({ type: 'error', step: stepId, code: 'step_limit', text: STEP_LIMIT_TEXT });
        break;
    }
  }
  return effects;
}
