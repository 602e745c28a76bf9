/**
 * One grammY `Api` per bot, built from the stored token (no getMe per start), with
 * `@grammyjs/auto-retry` (429 `retry_after`, 5xx, network) outside a flood-gate transformer: a 429
 * seen by any worker holds that bot's sends everywhere until it passes. Failures come out as coded
 * errors: transient ones `UPSTREAM_FAILED`, refusals (400, 403 blocked) `UPSTREAM_REJECTED`. The
 * token never appears in them. Calls go over one keep-alive undici pool (`keep-alive-fetch.ts`),
 * in-memory files as one buffered multipart body (`buffered-uploads.ts`). A buyer who blocked the
 * bot is remembered (per process, where that conversation's effects run): later sends to them are
 * refused here, without spending the bot's rate limit, until they write again (`unblock`).
 */
import { autoRetry } from '@grammyjs/auto-retry';
import { Api, GrammyError, HttpError, type RawApi } from 'grammy';
import type { Opts } from 'grammy/types';
import { BotflowError } from '../errors.ts';
import type { FloodGate } from '../stores/flood-gate.ts';
import type { BotApiCall } from '../telegram/render-effect.ts';
import { BufferedFile, createBufferedUploads } from './buffered-uploads.ts';
import { createKeepAliveFetch } from './keep-alive-fetch.ts';

/** A Bot API method grammY knows, with a parameters object. */
export type BotMethod = {
  [M in keyof RawApi]: Parameters<RawApi[M]>[0] extends AbortSignal | undefined ? never : M;
}[keyof RawApi];
/** What a Bot API method answers. */
export type BotResult<M extends keyof RawApi> = Awaited<ReturnType<RawApi[M]>>;
/** A file to upload with a rendered call, by parameter name. */
export type UploadedFile = { data: Uint8Array; filename: string };

/** Calls the Bot API for bots by id. */
export interface BotApis {
  /** Calls `method` for the bot with its typed parameters; resolves to its typed result. */
  call<M extends BotMethod>(botId: string, method: M, params: Opts<M>): Promise<BotResult<M>>;
  /** Sends a call of the pure renderer; `files` are uploaded as multipart (e.g. a QR image). */
  send(
    botId: string,
    call: Pick<BotApiCall, 'method' | 'params'>,
    files?: Record<string, UploadedFile>,
  ): Promise<unknown>;
  /** Drops a cached client (token changed, bot removed). */
  forget(botId: string): void;
  /** The user wrote to the bot again: sends to them go to Telegram again. */
  unblock(botId: string, userId: string): void;
  /** Closes the connection pool (at shutdown, after the last call). */
  close(): Promise<void>;
}

export interface BotApisOptions {
  apiRoot: string;
  tokenOf(botId: string): Promise<string | null>;
  floodGate: FloodGate;
  now?: () => number;
  /** Most auto-retries of one call (default 3); a longer flood wait than `maxDelaySeconds` fails the call. */
  maxRetryAttempts?: number;
  maxDelaySeconds?: number;
  /** Observes every 429 (metrics). */
  onFloodWait?(botId: string, seconds: number): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Telegram's refusals that mean "this user cannot be written to" until they write again. */
const UNREACHABLE = /blocked by the user|user is deactivated/i;
/** How many blocked chats are remembered (the oldest are forgotten first). */
const REMEMBERED_BLOCKS = 100_000;

/** Creates the per-bot clients. */
export function createBotApis(options: BotApisOptions): BotApis {
  const now = options.now ?? Date.now;
  const apis = new Map<string, Promise<Api>>();
  const blocked = new Set<string>();
  const transport = createKeepAliveFetch();

  function build(botId: string): Promise<Api> {
    return options.tokenOf(botId).then((token) => {
      if (token === null) throw new BotflowError('NOT_FOUND', `bot ${botId} is not registered`);
      const api = new Api(token, { apiRoot: options.apiRoot, fetch: transport.fetch });
      // Innermost: in-memory files go out as one buffered multipart body (grammY streams its own).
      api.config.use(
        createBufferedUploads({
          urlOf: (method) => `${options.apiRoot}/bot${token}/${method}`,
          fetch: transport.fetch,
        }),
      );
      // Then: wait out the shared gate, and publish a 429 to it. Outer: grammY's retries.
      api.config.use(async (prev, method, payload, signal) => {
        const chatId = (payload as { chat_id?: unknown }).chat_id;
        const chat = method.startsWith('send') && Number(chatId) > 0 ? `${botId}:${Number(chatId)}` : null;
        if (chat !== null && blocked.has(chat))
          return {
            ok: false,
            error_code: 403,
            description: 'Forbidden: bot was blocked by the user (remembered; not sent)',
          };
        const until = await options.floodGate.until(botId);
        if (until > now()) await sleep(until - now());
        const result = await prev(method, payload, signal);
        if (
          !result.ok &&
          chat !== null &&
          result.error_code === 403 &&
          UNREACHABLE.test(result.description)
        ) {
          if (blocked.size >= REMEMBERED_BLOCKS) blocked.delete(blocked.values().next().value!);
          blocked.add(chat);
        }
        if (!result.ok && result.error_code === 429) {
          const seconds = result.parameters?.retry_after ?? 1;
          options.onFloodWait?.(botId, seconds);
          await options.floodGate.hold(botId, now() + seconds * 1000);
        }
        return result;
      });
      api.config.use(
        autoRetry({
          maxRetryAttempts: options.maxRetryAttempts ?? 3,
          maxDelaySeconds: options.maxDelaySeconds ?? 60,
          // Network failures go back to the effect runner, whose retries are stop-aware and durable.
          rethrowHttpErrors: true,
        }),
      );
      return api;
    });
  }

  function apiFor(botId: string): Promise<Api> {
    let api = apis.get(botId);
    if (api === undefined) {
      api = build(botId);
      apis.set(botId, api);
      api.catch(() => apis.delete(botId));
    }
    return api;
  }

  /** Runs one raw call; grammY's per-method signatures cannot be indexed by a generic key, hence one cast. */
  async function invoke(botId: string, method: BotMethod, payload: unknown): Promise<unknown> {
    const api = await apiFor(botId);
    const raw = api.raw as unknown as Record<BotMethod, (payload: unknown) => Promise<unknown>>;
    try {
      return await raw[method](payload);
    } catch (error) {
      throw toCoded(method, error);
    }
  }

  return {
    call: <M extends BotMethod>(botId: string, method: M, params: Opts<M>) =>
      invoke(botId, method, params) as Promise<BotResult<M>>,
    send(botId, call, files) {
      const payload: Record<string, unknown> = { ...call.params };
      for (const [field, file] of Object.entries(files ?? {}))
        payload[field] = new BufferedFile(file.data, file.filename);
      return invoke(botId, call.method, payload);
    },
    forget(botId) {
      apis.delete(botId);
    },
    unblock(botId, userId) {
      blocked.delete(`${botId}:${userId}`);
    },
    close: () => transport.close(),
  };
}

/** Sorts a Bot API failure by who failed: Telegram refusing (for good) or the call failing (retry). */
function toCoded(method: string, error: unknown): BotflowError {
  if (error instanceof GrammyError) {
    const transient = error.error_code === 429 || error.error_code >= 500;
    return new BotflowError(
      transient ? 'UPSTREAM_FAILED' : 'UPSTREAM_REJECTED',
      `Telegram ${method}: ${error.error_code} ${error.description}`,
      { details: { method, error_code: error.error_code } },
    );
  }
  if (error instanceof HttpError)
    return new BotflowError('UPSTREAM_FAILED', `Telegram ${method}: network error`, { details: { method } });
  return new BotflowError('UPSTREAM_FAILED', `Telegram ${method} failed`, { details: { method } });
}
