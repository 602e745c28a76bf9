/**
 * The update-side Bot API methods of the fake: getUpdates (long poll capped at 2 s by default, offset confirms,
 * 409 while a webhook is set or when superseded by another poll) and setWebhook / deleteWebhook /
 * getWebhookInfo, with Telegram's secret_token and allowed_updates rules.
 */
import { BotflowError } from '../errors.ts';
import type { BotState, MethodRun } from './bot-api-methods.ts';
import { readBool, readInt, readString } from './bot-api-params.ts';

/** A waiting long poll of one bot; `wake` ends the wait early. */
export interface PollWaiter {
  wake: () => void;
  superseded: boolean;
}

const MAX_POLL_MS = 2000;
const badRequest = (description: string) => new BotflowError('BAD_REQUEST', `Bad Request: ${description}`);
const conflictWithWebhook = () =>
  new BotflowError(
    'CONFLICT',
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
  );

/** Builds the methods over the server's shared state: waiting polls by token and the webhook pusher. */
export function createUpdateMethods(deps: {
  polls: Map<string, PollWaiter>;
  pump: (state: BotState) => void;
  onChange: () => void;
  isClosed: () => boolean;
  /** Longest long poll (ms; default 2000, Telegram allows 50 s). */
  maxPollMs?: number;
}): Record<string, MethodRun> {
  const maxPollMs = deps.maxPollMs ?? MAX_POLL_MS;
  function readAllowedUpdates(state: BotState, value: unknown) {
    if (value === undefined) return;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
      throw badRequest("can't parse allowed updates JSON object");
    state.allowedUpdates = value;
  }

  async function getUpdates(state: BotState, p: Record<string, unknown>, _now: number, signal?: AbortSignal) {
    if (state.webhook !== null) throw conflictWithWebhook();
    readAllowedUpdates(state, p['allowed_updates']);
    const offset = readInt(p['offset']) || 0;
    const limit = Math.min(100, Math.max(1, readInt(p['limit']) || 100));
    const timeoutMs = Math.min(maxPollMs, Math.max(0, (readInt(p['timeout']) || 0) * 1000));
    if (offset > 0) state.pending = state.pending.filter((u) => u.id >= offset);
    if (offset < 0) state.pending = state.pending.slice(offset);
    const previous = deps.polls.get(state.bot.token);
    if (previous !== undefined) {
      previous.superseded = true;
      previous.wake();
    }
    if (state.pending.length === 0 && timeoutMs > 0 && !deps.isClosed()) {
      const poll = { wake: () => {}, superseded: false };
      deps.polls.set(state.bot.token, poll);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => poll.wake(), timeoutMs);
        poll.wake = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', poll.wake);
          resolve();
        };
        signal?.addEventListener('abort', poll.wake);
      });
      if (deps.polls.get(state.bot.token) === poll) deps.polls.delete(state.bot.token);
      // A poll superseded right after its client hung up (grammY's bot.stop()) is not a conflict:
      // give the close a moment to arrive, then hand nothing out.
      if (poll.superseded && signal !== undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      if (signal?.aborted) return [];
      if (state.webhook !== null) throw conflictWithWebhook();
      if (poll.superseded)
        throw new BotflowError(
          'CONFLICT',
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
        );
    }
    const batch = state.pending.slice(0, limit);
    for (const item of batch) item.handedOut = true;
    queueMicrotask(deps.onChange);
    return batch.map((item) => item.update);
  }

  const methods: Record<string, MethodRun> = {
    getUpdates,
    setWebhook: (state, p) => {
      const url = readString(p['url']);
      if (url === undefined) throw badRequest('parameter "url" is required');
      if (url !== '' && !/^https?:\/\/[^\s/]+/i.test(url))
        throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
      const secret = readString(p['secret_token']) || undefined;
      if (secret !== undefined && secret.length > 256) throw badRequest('secret token is too long');
      if (secret !== undefined && !/^[A-Za-z0-9_-]+$/.test(secret))
        throw badRequest('secret token contains unallowed characters');
      readAllowedUpdates(state, p['allowed_updates']);
      if (readBool(p['drop_pending_updates'])) state.pending = [];
      const maxConnections = Math.min(100, Math.max(1, readInt(p['max_connections']) || 40));
      state.webhook = url === '' ? null : { url, secret, maxConnections };
      deps.polls.get(state.bot.token)?.wake();
      deps.pump(state);
      return true;
    },
    deleteWebhook: (state, p) => {
      state.webhook = null;
      if (readBool(p['drop_pending_updates'])) state.pending = [];
      queueMicrotask(deps.onChange);
      return true;
    },
    getWebhookInfo: (state) => ({
      url: state.webhook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: state.pending.length,
      last_error_date: state.lastError?.date,
      last_error_message: state.lastError?.message,
      max_connections: state.webhook?.maxConnections,
      allowed_updates: state.allowedUpdates,
    }),
  };
  return methods;
}
