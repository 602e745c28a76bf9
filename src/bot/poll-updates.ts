/**
 * Long polling, for development without a public URL (`botflow start --polling`): per bot,
 * deleteWebhook, then a getUpdates loop that feeds each update to the same handler the webhook route
 * uses. The offset moves past an update only once the handler resolved (its result is committed), so
 * a crash or a stop loses nothing accepted; a retryable failure is retried after a backoff, an update
 * the handler refuses for good is logged and skipped. Updates of one bot are handled in order, one at
 * a time. Telegram allows one poller per bot: polling is for one process (a second one gets 409).
 */
import { Api, GrammyError } from 'grammy';
import type { Logger } from 'pino';
import { type ErrorCode, toBotflowError } from '../errors.ts';
import { ALLOWED_UPDATES } from '../telegram/allowed-updates.ts';
import type { UpdateHandler } from './handle-update.ts';
import { computeBackoff } from '../runtime/compute-backoff.ts';

/** What the loops need. */
export interface PollingOptions {
  /** Bot API base (the fake Bot API in tests). */
  apiRoot: string;
  /** The bots to poll with their tokens; read at start and on every `refresh`. */
  listBots(): Promise<Array<{ id: string; token: string }>>;
  /** The webhook's update handler: resolves once the update's result is committed. */
  handle: UpdateHandler;
  logger: Logger;
  /** Long poll timeout in seconds (default 25). */
  timeoutSeconds?: number;
  /** First delay after a failure (default 500 ms), doubled per failure up to `maxRetryMs` (default 30 s). */
  retryBaseMs?: number;
  maxRetryMs?: number;
}

/** Running polling loops. */
export interface Polling {
  /** Starts loops for bots registered since, and stops those of bots removed or whose token changed. */
  refresh(): Promise<void>;
  /** Aborts the long polls, waits for the updates being handled, and confirms them to Telegram. */
  stop(): Promise<void>;
}

interface Loop {
  token: string;
  stop(): Promise<void>;
}

/** A failure of the handler that should be retried (the update is fetched again). */
class RetryUpdate extends Error {
  readonly code: ErrorCode;
  readonly updateId: number;
  constructor(code: ErrorCode, updateId: number) {
    super('retry update');
    this.code = code;
    this.updateId = updateId;
  }
}

/** grammY types its signals with a shim's AbortSignal; Node's is the same thing at runtime. */
type GrammySignal = Parameters<Api['getUpdates']>[1];
const asSignal = (signal: AbortSignal) => signal as unknown as GrammySignal;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** Starts one loop per registered bot (`refresh` adds and removes loops). */
export async function startPolling(options: PollingOptions): Promise<Polling> {
  const { logger } = options;
  const timeout = options.timeoutSeconds ?? 25;
  const retryBase = options.retryBaseMs ?? 500;
  const maxRetry = options.maxRetryMs ?? 30_000;
  const loops = new Map<string, Loop>();
  let stopped = false;
  let queue: Promise<void> = Promise.resolve();

  /** Logs a failed round and returns how long to wait before the next one. */
  function onFailure(botId: string, error: unknown, failures: number): number {
    const backoff = computeBackoff(failures, retryBase, maxRetry);
    const fields = { bot_id: botId, retry_in_ms: backoff };
    if (error instanceof RetryUpdate) {
      logger.warn({ ...fields, update_id: error.updateId, code: error.code }, 'update failed; retrying it');
    } else if (error instanceof GrammyError && error.error_code === 409) {
      // Only the description: a library error can carry the request URL, and with it the token.
      logger.error(
        { ...fields, code: 'CONFLICT', error_code: 409, description: error.description },
        'Telegram refused getUpdates (409): a webhook was set again or another process polls this bot; ' +
          'only one botflow may poll a bot',
      );
    } else if (error instanceof GrammyError && error.error_code === 429) {
      const wait = (error.parameters.retry_after ?? 1) * 1000;
      logger.warn(
        { ...fields, retry_in_ms: wait, code: 'UPSTREAM_FAILED', error_code: 429 },
        'polling flood wait',
      );
      return wait;
    } else if (error instanceof GrammyError) {
      const transient = error.error_code >= 500;
      logger.error(
        {
          ...fields,
          code: transient ? 'UPSTREAM_FAILED' : 'UPSTREAM_REJECTED',
          error_code: error.error_code,
          description: error.description,
        },
        `Telegram refused ${error.method}`,
      );
    } else {
      logger.warn({ ...fields, code: 'UPSTREAM_FAILED' }, 'Telegram did not answer the long poll');
    }
    return backoff;
  }

  function startLoop(botId: string, token: string): Loop {
    const api = new Api(token, { apiRoot: options.apiRoot });
    const abort = new AbortController();
    // The next update id to ask for (everything before it is handled); undefined: what Telegram holds.
    let offset: number | undefined;
    let confirmed: number | undefined;

    async function handleBatch(updates: Array<{ update_id: number }>): Promise<void> {
      for (const update of updates) {
        // After stop, start nothing new: unhandled updates stay with Telegram for the next start.
        if (abort.signal.aborted) return;
        try {
          await options.handle(botId, update);
        } catch (thrown) {
          const error = toBotflowError(thrown);
          if (error.retryable) throw new RetryUpdate(error.code, update.update_id);
          logger.warn(
            { bot_id: botId, update_id: update.update_id, code: error.code },
            'update refused; skipped',
          );
        }
        offset = update.update_id + 1;
      }
    }

    const running = (async () => {
      let failures = 0;
      let webhookDeleted = false;
      while (!abort.signal.aborted) {
        try {
          if (!webhookDeleted) {
            await api.deleteWebhook({}, asSignal(abort.signal));
            webhookDeleted = true;
            logger.info({ bot_id: botId }, 'polling for updates (webhook deleted)');
          }
          const updates = await api.getUpdates(
            { ...(offset === undefined ? {} : { offset }), timeout, allowed_updates: [...ALLOWED_UPDATES] },
            asSignal(abort.signal),
          );
          // Asking with `offset` confirmed everything before it.
          confirmed = offset;
          failures = 0;
          await handleBatch(updates);
        } catch (error) {
          if (abort.signal.aborted) break;
          failures += 1;
          await sleep(onFailure(botId, error, failures), abort.signal);
        }
      }
    })();

    return {
      token,
      async stop() {
        abort.abort();
        await running;
        if (offset === undefined || offset === confirmed) return;
        // Confirm what was handled, so the next start does not fetch it again (it would be deduplicated).
        await api
          .getUpdates({ offset, limit: 1, timeout: 0 }, asSignal(AbortSignal.timeout(5000)))
          .catch(() =>
            logger.warn({ bot_id: botId, code: 'UPSTREAM_FAILED' }, 'handled updates not confirmed'),
          );
      },
    };
  }

  /** Runs `task` after the previous refresh or stop finished. */
  function serialized(task: () => Promise<void>): Promise<void> {
    const next = queue.then(task);
    queue = next.catch(() => {});
    return next;
  }

  const refresh = () =>
    serialized(async () => {
      if (stopped) return;
      const wanted = new Map((await options.listBots()).map((b) => [b.id, b.token]));
      for (const [botId, loop] of [...loops]) {
        if (wanted.get(botId) === loop.token) continue;
        loops.delete(botId);
        await loop.stop();
      }
      for (const [botId, token] of wanted) if (!loops.has(botId)) loops.set(botId, startLoop(botId, token));
    });

  await refresh();
  return {
    refresh,
    stop: () =>
      serialized(async () => {
        stopped = true;
        const all = [...loops.values()];
        loops.clear();
        await Promise.all(all.map((loop) => loop.stop()));
      }),
  };
}
