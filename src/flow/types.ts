/**
 * The data that crosses the pure core's boundary: events a conversation accepts and effects it asks
 * the runtime to perform. Both are plain JSON so they can be logged, persisted and replayed.
 */

/** Events a conversation machine accepts. The runtime (Telegram, payments, timers) produces them. */
export type FlowEvent =
  /**
   * `/start`, with the deep-link payload (a tracking token) when there was one, and the sender's
   * Telegram names when the bot's pixel asks for them (kept as `buyer` facts for Meta's fn/ln).
   */
  | { type: 'start'; payload?: string; profile?: { first_name?: string; last_name?: string } }
  /** A text message from the user. */
  | { type: 'text'; text: string }
  /**
   * A press of an inline button: the step whose keyboard it belongs to and the button's index there
   * (the simulator's form: a button of the conversation's own flow version). A Telegram press names
   * its step by tag instead: `callback` is what its data said, matched by `resolveClick` against the
   * conversation's flow version (`step` stays empty until then). A press of another flow, version,
   * step or button than the conversation has is stale.
   */
  | { type: 'click'; step: string; index: number; callback?: ButtonCallback }
  /** The "I have paid" button: the runtime asks the gateway and answers with `payment.paid` or `payment.unpaid`. */
  | { type: 'payment.check' }
  /** The gateway created the charge asked for by a `createCharge` effect. */
  | { type: 'payment.created'; order: string; charge_id: string; br_code: string; expires_at?: string }
  /** The charge could not be created (the step's `retry` exit). */
  | { type: 'payment.create_failed'; order: string; reason?: string }
  /** The charge `order`, created by step `step`, changed status. */
  | { type: 'payment.paid'; order: string; step: string }
  | { type: 'payment.expired'; order: string; step: string }
  | { type: 'payment.failed'; order: string; step: string }
  /** The gateway still reports the charge unpaid after a `payment.check`. */
  | { type: 'payment.unpaid'; order: string; step: string }
  /** A durable timer fired: `event` is exactly what the `schedule` effect carried. */
  | { type: `xstate.after.${string}` };

/**
 * What a button's callback data says it was rendered for: the flow and step as `hashId` tags and the
 * flow version. `flow` is null for data rendered before buttons named their flow (matched as before:
 * by version and step only).
 */
export interface ButtonCallback {
  flow: string | null;
  version: number;
  step: string;
}

/** An inline button as rendered: `index` is its position in the step's `custom_buttons`. */
export interface OutButton {
  text: string;
  index: number;
  url?: string;
}

/** A message to send to the user. */
export interface OutMessage {
  text: string;
  parse_mode?: 'HTML' | 'MarkdownV2';
  media?: { url: string; type: 'photo' | 'video' | 'audio' | 'document' | 'animation' };
  buttons?: OutButton[];
}

/** Why a short notice is sent instead of a step's output. */
export type NoticeCode =
  | 'stale_button'
  | 'payment_pending'
  | 'awaiting_payment'
  | 'charge_failed'
  | 'flow_disabled'
  | 'conversation_ended';

/**
 * Effects a transition asks for, in order, plus the access effects the Telegram edge decides for a
 * conversation's user (a join request answered, an invite link revoked, a member removed, access
 * ended), committed with that conversation like the flow's own. The runtime executes them after the
 * commit, at least once each, giving each an idempotency key (conversation, turn, position).
 */
export type Effect =
  /** `flow`: the id of the flow the step belongs to, which its buttons name (absent in older outbox rows). */
  | { type: 'send'; step: string; message: OutMessage; flow?: string }
  | {
      type: 'createCharge';
      step: string;

      /** The order id, unique per charge intent within the conversation (`<step>:<n>`). */
      order: string;
      amount_cents: number;
      description: string;
      expires_in_minutes: number;
      /** Index into `main_buttons` the price came from, or null when the step set its own amount. */
      offer: number | null;
    }
  | {
      type: 'sendCharge';
      step: string;
      order: string;
      charge_id: string;
      br_code: string;
      amount_cents: number;
      description: string;
    }
  | { type: 'checkCharge'; step: string; order: string }
  | {
      type: 'grantAccess';
      step: string;

      /** The paid order this access is for, when one was paid in this conversation. */
      order: string | null;
      chat_id?: string | number;
      link?: string;
      access_days?: number;
    }
  | { type: 'notice'; step: string | null; code: NoticeCode; text: string }
  | { type: 'error'; step: string; code: 'step_limit'; text: string }
  /** Approve or decline the conversation user's request to join `chat_id` (their grant's, or not). */
  | { type: 'approveJoin'; chat_id: string }
  | { type: 'declineJoin'; chat_id: string }
  /** Revoke an invite link of `chat_id` (a grant's link, spent once its buyer joined). */
  | { type: 'revokeInvite'; chat_id: string; invite_link: string }
  /** Remove the conversation's user from `chat_id` (ban + unban: out, and free to buy again). */
  | { type: 'removeMember'; chat_id: string }
  /** Tell the buyer their paid access ended: it ran out, or its payment was refunded. */
  | { type: 'accessEnded'; reason: 'expired' | 'refunded' }
  /** Start a durable timer: deliver `event` after `delay_ms`, unless cancelled by `id` first. */
  | { type: 'schedule'; id: string; delay_ms: number; event: { type: string } }
  | { type: 'cancel'; id: string };

/** Where a conversation stands: waiting for the user or a timer, finished, or stopped by an error. */
export type ConversationStatus = 'waiting' | 'done' | 'error';
