/**
 * A local stand-in for Telegram's Bot API on loopback, for many bot tokens at once: `/bot<token>/<method>`
 * with Telegram's response shapes and limits, getUpdates long polling, webhook push with Telegram's
 * per-chat ordering, secret header and retries, plus injected errors and latency. Use `url` as grammY's
 * `apiRoot`. Tests, the demo and benchmarks use it instead of the internet.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BotflowError, toBotflowError } from '../errors.ts';
import { BASIC_METHODS, type BotState, createBotState, type MethodRun } from './bot-api-methods.ts';
import { readBotParams, readInt } from './bot-api-params.ts';
import { createUpdateMethods, type PollWaiter } from './bot-api-updates.ts';
import { parseWebhookReply, queueKeyOf, startWebhookPusher, type WebhookDelivery } from './webhook-pusher.ts';

/** One API call the fake answered. */
export interface RecordedCall {
  token: string;
  method: string;
  params: Record<string, unknown>;
  at: number;
  /** The HTTP status answered; 0 while the call is still being answered (a long poll, latency). */
  status: number;
  /** Set when the call came as a webhook reply (the body of a webhook's 2xx answer), not over HTTP. */
  via?: 'webhook_reply';
}

/** A running fake Bot API. */
export interface FakeBotApi {
  /** e.g. http://127.0.0.1:PORT; pass as grammY's `apiRoot`. */
  url: string;
  addBot(bot: { token: string; id: number; username: string; firstName?: string }): void;
  /** Every accepted or rejected call, in arrival order. */
  calls: RecordedCall[];
  callsOf(token: string, method?: string): RecordedCall[];
  /** Answers the next `times` calls (optionally of one method / one token) with this error. */
  injectError(e: {
    status: 429 | 500 | 502 | 400;
    retryAfter?: number;
    description?: string;
    method?: string;
    token?: string;
    times?: number;
  }): void;
  /** The user blocks (or, false, unblocks) the bot: its sends to that chat answer 403 like Telegram's. */
  setBlocked(token: string, userId: number, blocked: boolean): void;
  /** Delays every API call (not webhook pushes) by this many milliseconds. */
  setLatency(ms: number): void;
  /**
   * Queues an update: pushed to the webhook if one is set, else kept for getUpdates. Assigns update_id
   * when missing and returns it. Like Telegram, an update whose type is not in the bot's last
   * allowed_updates is dropped (an empty list excludes chat_member and reactions); with no
   * allowed_updates ever given, every update is kept.
   */
  pushUpdate(token: string, update: Record<string, unknown>): number;
  /**
   * Runs a webhook's 2xx answer body as Telegram does: a JSON object naming a `method` is executed as
   * that call of the bot (recorded with `via: 'webhook_reply'`; its outcome is not reported back);
   * anything else is ignored. For drivers that post updates themselves; the pusher does this for its
   * own deliveries. Returns whether a call ran.
   */
  runWebhookReply(token: string, body: string): boolean;
  /** Resolves once every update was delivered by webhook (2xx), given up, or returned by getUpdates. */
  settled(): Promise<void>;
  /** Webhook POSTs and their outcomes. */
  deliveries: WebhookDelivery[];
  /** TCP connections accepted so far (clients that keep connections alive open few). */
  readonly connections: number;
  close(): Promise<void>;
}

const NOT_BY_DEFAULT = ['chat_member', 'message_reaction', 'message_reaction_count'];
const FAULT_TEXT: Record<number, string> = {
  400: 'Bad Request: injected error',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

/** Starts the fake on `host` (default 127.0.0.1) and an ephemeral port. */
export async function startFakeBotApi(
  options: {
    host?: string;
    webhookTimeoutMs?: number;
    retryBaseMs?: number;
    maxAttempts?: number;
    now?: () => number;
    /** Longest getUpdates long poll in ms (default 2000, so tests do not wait Telegram's 50 s). */
    maxPollMs?: number;
  } = {},
): Promise<FakeBotApi> {
  const now = options.now ?? Date.now;
  const bots = new Map<string, BotState>();
  const calls: RecordedCall[] = [];
  const deliveries: WebhookDelivery[] = [];
  const faults: Array<Parameters<FakeBotApi['injectError']>[0] & { times: number }> = [];
  const polls = new Map<string, PollWaiter>();
  let settledWaiters: Array<() => void> = [];
  let latencyMs = 0;
  let closed = false;

  const isSettled = () =>
    [...bots.values()].every(
      (s) => s.inflight.size === 0 && s.pending.every((p) => s.webhook === null && p.handedOut),
    );
  const onChange = () => {
    if (settledWaiters.length === 0 || !(closed || isSettled())) return;
    for (const resolve of settledWaiters) resolve();
    settledWaiters = [];
  };
  const pusher = startWebhookPusher({
    timeoutMs: options.webhookTimeoutMs ?? 10_000,
    retryBaseMs: options.retryBaseMs ?? 200,
    maxAttempts: options.maxAttempts ?? 5,
    now,
    deliveries,
    onChange,
    reply: (state, call) => void execute(state, call.method, call.params, now(), undefined, true),
  });
  const updateMethods = createUpdateMethods({
    polls,
    pump: (state) => pusher.pump(state),
    onChange,
    isClosed: () => closed,
    ...(options.maxPollMs === undefined ? {} : { maxPollMs: options.maxPollMs }),
  });
  const METHODS = new Map<string, { name: string; run: MethodRun }>(
    Object.entries({ ...BASIC_METHODS, ...updateMethods }).map(([name, run]) => [
      name.toLowerCase(),
      { name, run },
    ]),
  );

  /** Runs one call for a known bot; returns Telegram's HTTP status and body, and records the call. */
  async function execute(
    state: BotState,
    method: string,
    params: Record<string, unknown>,
    at: number,
    signal?: AbortSignal,
    webhookReply = false,
  ) {
    const known = METHODS.get(method.toLowerCase());
    const record: RecordedCall = {
      token: state.bot.token,
      method: known?.name ?? method,
      params,
      at,
      status: 0,
      ...(webhookReply ? { via: 'webhook_reply' as const } : {}),
    };
    calls.push(record);
    let status = 200;
    let body: Record<string, unknown>;
    try {
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      if (known === undefined) throw new BotflowError('NOT_FOUND', 'Not Found');
      const index = faults.findIndex(
        (f) =>
          (f.token === undefined || f.token === state.bot.token) &&
          (f.method === undefined || f.method.toLowerCase() === known.name.toLowerCase()),
      );
      const fault = faults[index];
      if (known.name.startsWith('send') && state.blockedBy.has(Number(params['chat_id']))) {
        status = 403;
        body = { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' };
      } else if (fault !== undefined) {
        fault.times -= 1;
        if (fault.times <= 0) faults.splice(index, 1);
        const retryAfter = fault.retryAfter ?? 1;
        status = fault.status;
        body = {
          ok: false,
          error_code: fault.status,
          description:
            fault.description ??
            (fault.status === 429
              ? `Too Many Requests: retry after ${retryAfter}`
              : FAULT_TEXT[fault.status]),
          ...(fault.status === 429 ? { parameters: { retry_after: retryAfter } } : {}),
        };
      } else {
        body = { ok: true, result: await known.run(state, params, Math.floor(now() / 1000), signal) };
      }
    } catch (error) {
      const failure = toBotflowError(error);
      status = failure.code === 'INTERNAL' ? 500 : failure.status;
      body = {
        ok: false,
        error_code: status,
        description: failure.code === 'INTERNAL' ? 'Internal Server Error' : failure.message,
      };
    }
    record.status = status;
    return { status, body };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const at = now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const route = /^\/bot([^/]+)\/([^/]*)$/.exec(url.pathname);
    const token = decodeURIComponent(route?.[1] ?? '');
    const method = route?.[2] ?? '';
    const state = bots.get(token);
    let answer: { status: number; body: Record<string, unknown> };
    if (route === null || state === undefined) {
      const status = route === null ? 404 : 401;
      answer = {
        status,
        body: { ok: false, error_code: status, description: status === 404 ? 'Not Found' : 'Unauthorized' },
      };
      calls.push({ token, method, params: {}, at, status });
    } else {
      let params: Record<string, unknown>;
      try {
        params = readBotParams(url, req.headers['content-type'] ?? '', Buffer.concat(chunks));
      } catch (error) {
        const failure = toBotflowError(error);
        params = {};
        const status = failure.code === 'BAD_REQUEST' ? 400 : 500;
        answer = { status, body: { ok: false, error_code: status, description: failure.message } };
        calls.push({ token, method, params, at, status });
        return reply(res, answer);
      }
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      answer = await execute(state, method, params, at, gone.signal);
    }
    reply(res, answer);
  }

  function reply(res: ServerResponse, answer: { status: number; body: Record<string, unknown> }) {
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent)
        reply(res, {
          status: 500,
          body: { ok: false, error_code: 500, description: 'Internal Server Error' },
        });
    });
  });
  // Idle connections stay open long, as Telegram's do: node-fetch's agent (grammY's default client)
  // ignores the Keep-Alive header, so with Node's 5 s default a client reusing a socket as the server
  // closed it saw a reset ("Network request for 'sendMessage' failed!" in the webhook benchmark).
  server.keepAliveTimeout = 65_000;
  let connections = 0;
  server.on('connection', () => void (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    calls,
    deliveries,
    get connections() {
      return connections;
    },
    addBot: (bot) => void bots.set(bot.token, createBotState(bot)),
    callsOf: (token, method) =>
      calls.filter((c) => c.token === token && (method === undefined || c.method === method)),
    injectError: (e) => void faults.push({ ...e, times: e.times ?? 1 }),
    setLatency: (ms) => void (latencyMs = ms),
    runWebhookReply(token, body) {
      const state = bots.get(token);
      const call = parseWebhookReply(body);
      if (state === undefined || call === null) return false;
      void execute(state, call.method, call.params, now(), undefined, true);
      return true;
    },
    setBlocked(token, userId, blocked) {
      const state = bots.get(token);
      if (state === undefined) throw new BotflowError('NOT_FOUND', 'No such bot in the fake Bot API');
      if (blocked) state.blockedBy.add(userId);
      else state.blockedBy.delete(userId);
    },
    pushUpdate(token, update) {
      const state = bots.get(token);
      if (state === undefined) throw new BotflowError('NOT_FOUND', 'No such bot in the fake Bot API');
      const given = readInt(update['update_id']);
      const id = given !== undefined && !Number.isNaN(given) ? given : state.nextUpdateId;
      state.nextUpdateId = Math.max(state.nextUpdateId, id + 1);
      const full = { update_id: id, ...update };
      const type = Object.keys(full).find((k) => k !== 'update_id') ?? '';
      const allowed = state.allowedUpdates;
      if (
        allowed !== undefined &&
        (allowed.length === 0 ? NOT_BY_DEFAULT.includes(type) : !allowed.includes(type))
      )
        return id;
      state.pending.push({ id, update: full, key: queueKeyOf(full), handedOut: false });
      polls.get(token)?.wake();
      pusher.pump(state);
      return id;
    },
    settled: () =>
      new Promise<void>((resolve) => {
        settledWaiters.push(resolve);
        onChange();
      }),
    async close() {
      closed = true;
      pusher.stop();
      for (const poll of polls.values()) poll.wake();
      onChange();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
