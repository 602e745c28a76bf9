/**
 * JSON over a keep-alive pool (`gateway-request.ts`) for gateway adapters: one timeout, no redirects
 * (a redirect could carry the bearer credential elsewhere), and one mapping from HTTP outcomes to
 * `BotflowError` codes. Every message is scrubbed of the credentials it was given, so a gateway
 * echoing a token never leaks it.
 */
import { BotflowError } from '../errors.ts';
import { isRecord } from '../flow/is-record.ts';
import {
  type GatewayAnswer,
  type GatewayPool,
  GatewayRequestFailure,
  requestGateway,
} from './gateway-request.ts';

/** What an adapter tells the client about its gateway. */
export interface GatewayHttpOptions {
  /** The gateway's name in messages, e.g. "Mercado Pago". */
  name: string;
  baseUrl: string;
  /** Sent on every request (the credential goes here). */
  headers: Record<string, string>;
  /** Strings that must never appear in an error (tokens, keys). */
  secrets: string[];
  timeoutMs?: number;
  /** The keep-alive pool to call over (undici's global one when absent). */
  pool?: GatewayPool;
  /** Pulls the gateway's own error code and message out of an error body. */
  describeError?(body: unknown): { code?: string; message?: string };
}

/** One request: method, path (joined to the base URL), optional JSON body and extra headers. */
export type GatewayCall = (
  method: string,
  path: string,
  options?: { body?: unknown; headers?: Record<string, string> },
) => Promise<unknown>;

/** Reads `{ message, error|code }`, the shape most gateways answer errors with. */
function describeCommonError(body: unknown): { code?: string; message?: string } {
  if (!isRecord(body)) return {};
  const inner = isRecord(body['error']) ? body['error'] : body;
  const code = [inner['code'], inner['error']].find((v) => typeof v === 'string') as string | undefined;
  const message = typeof inner['message'] === 'string' ? inner['message'] : undefined;
  return { ...(code === undefined ? {} : { code }), ...(message === undefined ? {} : { message }) };
}

/** Creates the caller for one gateway. */
export function createGatewayHttp(options: GatewayHttpOptions): GatewayCall {
  const base = options.baseUrl.replace(/\/+$/, '');
  const secrets = options.secrets
    .filter((s) => s.length >= 4)
    .flatMap((s) => [s, encodeURIComponent(s)])
    .sort((a, b) => b.length - a.length);
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join('[REDACTED]'), text).slice(0, 300);
  const describe = options.describeError ?? describeCommonError;
  const name = options.name;

  return async (method, path, call = {}) => {
    const where = scrub(`${method} ${path}`);
    let response: GatewayAnswer;
    try {
      response = await requestGateway(
        {
          method,
          url: `${base}${path}`,
          headers: {
            accept: 'application/json',
            ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
            ...call.headers,
          },
          ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
          timeoutMs: options.timeoutMs ?? 10_000,
        },
        options.pool,
      );
    } catch (error) {
      const failure =
        error instanceof GatewayRequestFailure ? error : new GatewayRequestFailure('Error', 'request');
      if (failure.stage === 'answer')
        throw new BotflowError('UPSTREAM_FAILED', `${name} broke off its answer to ${where}`);
      throw new BotflowError('UPSTREAM_FAILED', `${name} unreachable (${where}: ${scrub(failure.reason)})`);
    }
    const text = response.text;
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const status = response.status;
    if (response.ok) {
      if (parsed === undefined)
        throw new BotflowError('UPSTREAM_FAILED', `${name} answered ${where} with non-JSON`, {
          details: { status },
        });
      return parsed;
    }
    const upstream = describe(parsed);
    const said = upstream.message === undefined ? '' : `: ${scrub(upstream.message)}`;
    const details = {
      status,
      ...(upstream.code === undefined ? {} : { upstreamCode: scrub(upstream.code) }),
    };
    if (status >= 500 || status === 429)
      throw new BotflowError('UPSTREAM_FAILED', `${name} failed ${where} (HTTP ${status})${said}`, {
        details,
      });
    if (status === 401 || status === 403)
      throw new BotflowError('UNAUTHORIZED', `${name} rejected the credential (HTTP ${status})`, { details });
    if (status === 404)
      throw new BotflowError('NOT_FOUND', `${name}: not found (${where})${said}`, { details });
    if (status === 409)
      throw new BotflowError('CONFLICT', `${name}: conflict (${where})${said}`, { details });
    throw new BotflowError('BAD_REQUEST', `${name} rejected ${where} (HTTP ${status})${said}`, { details });
  };
}
