/**
 * Webhook delivery for the fake Bot API, modelled on Telegram's WebhookActor: one update in flight per
 * queue (chat, or user for button presses and join requests), queues in parallel up to max_connections,
 * the secret header on every POST, and retries with doubling backoff until the update is given up.
 */
import type { BotState, PendingUpdate } from './bot-api-methods.ts';
import { computeBackoff } from '../runtime/compute-backoff.ts';

/** One webhook POST and its outcome. */
export interface WebhookDelivery {
  token: string;
  update_id: number;
  status: number | 'timeout' | 'error';
  attempt: number;
  /** How long the POST took, ms (for a 2xx, botflow's webhook → committed time as Telegram sees it). */
  ms: number;
}

/** The queue an update belongs to, after Telegram's `webhook_queue_id` (Client.cpp). */
export function queueKeyOf(update: Record<string, unknown>): string {
  const type = Object.keys(update).find((k) => k !== 'update_id') ?? '';
  const body = (update[type] ?? {}) as {
    chat?: { id?: unknown };
    from?: { id?: unknown };
    user?: { id?: unknown };
  };
  const userId = body.from?.id ?? body.user?.id;
  if (['callback_query', 'inline_query', 'chosen_inline_result', 'pre_checkout_query'].includes(type)) {
    if (userId !== undefined) return `${type}:${String(userId)}`;
  }
  if (type === 'chat_join_request' && userId !== undefined) return `join:${String(userId)}`;
  if (type === 'chat_member' || type === 'my_chat_member') {
    if (body.chat?.id !== undefined) return `${type}:${String(body.chat.id)}`;
  }
  if (body.chat?.id !== undefined) return `chat:${String(body.chat.id)}`;
  return 'bot';
}

/**
 * The API call a webhook's 2xx answer body asks for, as Telegram reads it: a JSON object whose `method`
 * is a string (the other fields are the call's parameters); null for any other body.
 */
export function parseWebhookReply(text: string): { method: string; params: Record<string, unknown> } | null {
  if (!text.includes('"method"')) return null;
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
    const { method, ...params } = body as Record<string, unknown>;
    return typeof method === 'string' ? { method, params } : null;
  } catch {
    return null; // Telegram ignores a body that is not a webhook reply.
  }
}

/** Pushes pending updates to webhooks; `pump` starts delivery loops for every idle queue of a bot. */
export interface WebhookPusher {
  pump(state: BotState): void;
  stop(): void;
}

/** Starts a pusher. `reply` runs a webhook reply (a 2xx body naming a `method`) as an API call. */
export function startWebhookPusher(options: {
  timeoutMs: number;
  retryBaseMs: number;
  maxAttempts: number;
  now: () => number;
  deliveries: WebhookDelivery[];
  onChange: () => void;
  reply: (state: BotState, call: { method: string; params: Record<string, unknown> }) => void;
}): WebhookPusher {
  const stopping = new AbortController();
  const waits = new Set<() => void>();

  /** Sleeps unless the pusher stops first. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waits.add(done);
    });

  async function post(state: BotState, hook: NonNullable<BotState['webhook']>, item: PendingUpdate) {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = AbortSignal.any([stopping.signal, timeout]);
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(hook.secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': hook.secret }),
        },
        body: JSON.stringify(item.update),
        signal,
      });
      const text = await res.text();
      const call = res.status >= 200 && res.status < 300 ? parseWebhookReply(text) : null;
      if (call !== null) options.reply(state, call);
      return res.status;
    } catch {
      return timeout.aborted ? ('timeout' as const) : ('error' as const);
    }
  }

  /** Delivers one update with retries: true when done (delivered or given up), false if interrupted. */
  async function deliver(state: BotState, item: PendingUpdate): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const hook = state.webhook;
      if (hook === null || stopping.signal.aborted) return false;
      if (!state.pending.includes(item)) return true; // dropped meanwhile (drop_pending_updates)
      while (state.posting >= hook.maxConnections) await pause(5);
      state.posting += 1;
      const sent = performance.now();
      const status = await post(state, hook, item).finally(() => (state.posting -= 1));
      if (stopping.signal.aborted) return false;
      const ms = performance.now() - sent;
      options.deliveries.push({ token: state.bot.token, update_id: item.id, status, attempt, ms });
      if (typeof status === 'number' && status >= 200 && status < 300) return true;
      state.lastError = {
        date: Math.floor(options.now() / 1000),
        message:
          status === 'timeout'
            ? 'Read timeout expired'
            : status === 'error'
              ? 'Connection refused'
              : `Wrong response from the webhook: ${status}`,
      };
      if (attempt >= options.maxAttempts) return true;
      await pause(computeBackoff(attempt, options.retryBaseMs));
    }
  }

  async function drain(state: BotState, key: string) {
    state.inflight.add(key);
    try {
      for (;;) {
        const item = state.pending.find((p) => p.key === key);
        if (item === undefined || !(await deliver(state, item))) return;
        const index = state.pending.indexOf(item);
        if (index !== -1) state.pending.splice(index, 1);
        options.onChange();
      }
    } finally {
      state.inflight.delete(key);
      options.onChange();
    }
  }

  return {
    pump(state) {
      if (state.webhook === null || stopping.signal.aborted) return;
      for (const { key } of state.pending) if (!state.inflight.has(key)) void drain(state, key);
    },
    stop() {
      stopping.abort();
      for (const wake of [...waits]) wake();
    },
  };
}
