/**
 * The CLI's client of a running botflow's admin API: bots and tracking links are managed over HTTP, so
 * the commands work on the embedded database (which only the server process can open) and share the
 * server's validation. A coded error body comes back as the same `BotflowError`; a server that does
 * not answer is UPSTREAM_FAILED. The admin token is sent, never printed.
 */
import { redactUrl } from '../observability/redact-url.ts';
import { BotflowError, ERROR_CATALOG, type ErrorCode } from '../errors.ts';

/** Calls the admin API. */
export interface AdminClient {
  /** The server's base URL (password redacted), for messages. */
  url: string;
  /** Sends a request; resolves with the parsed JSON body (undefined for 204). */
  request(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<unknown>;
}

/** Where the server is and how to authenticate, from `--url` and the environment. */
export function createAdminClient(env: Record<string, string | undefined>, urlOption?: string): AdminClient {
  const port = env['PORT']?.trim() || '3000';
  const base = (urlOption ?? (env['BOTFLOW_URL']?.trim() || `http://127.0.0.1:${port}`)).replace(/\/+$/, '');
  let parsed: URL | undefined;
  try {
    parsed = new URL(base);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol))
    throw new BotflowError(
      'BAD_REQUEST',
      '--url (or BOTFLOW_URL) must be the http(s) base URL of a running botflow',
    );
  const token = env['BOTFLOW_ADMIN_TOKEN']?.trim();
  if (token === undefined || token === '')
    throw new BotflowError(
      'CONFIG_INVALID',
      'BOTFLOW_ADMIN_TOKEN must be set to the admin token of the running botflow',
    );
  const shown = redactUrl(base).replace(/\/+$/, '');

  return {
    url: shown,
    async request(method, path, body) {
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          // Adding a bot waits for Telegram (getMe, setWebhook).
          signal: AbortSignal.timeout(60_000),
        });
      } catch {
        throw new BotflowError(
          'UPSTREAM_FAILED',
          `botflow at ${shown} did not answer (is \`botflow start\` running there?)`,
        );
      }
      const text = await response.text().catch(() => '');
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (response.ok) return json;
      throw toCodedError(response.status, json, shown);
    },
  };
}

/** Rebuilds the server's coded error, or codes an answer that is not botflow's. */
function toCodedError(status: number, body: unknown, url: string): BotflowError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (
    typeof error?.code === 'string' &&
    Object.hasOwn(ERROR_CATALOG, error.code) &&
    typeof error.message === 'string'
  ) {
    return new BotflowError(error.code as ErrorCode, error.message, {
      ...(error.details === undefined ? {} : { details: error.details }),
    });
  }
  return new BotflowError(
    status >= 500 ? 'UPSTREAM_FAILED' : 'UPSTREAM_REJECTED',
    `${url} answered HTTP ${status}, not a botflow admin API response`,
  );
}
