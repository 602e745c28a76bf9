/**
 * botflow's logger: pino JSON lines with every secret-bearing field redacted, and logged errors
 * scrubbed of bot tokens (library errors often embed URLs with a bot token in them).
 */
import { type DestinationStream, type Logger, pino } from 'pino';

/** Paths pino blanks out wherever they appear in a log object. */
const REDACTED_PATHS = [
  'token',
  '*.token',
  'bot_token',
  '*.bot_token',
  'access_token',
  '*.access_token',
  'secret',
  '*.secret',
  'secret_token',
  '*.secret_token',
  'webhook_secret',
  '*.webhook_secret',
  'password',
  '*.password',
  'api_key',
  '*.api_key',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-telegram-bot-api-secret-token"]',
];

/** Creates the process logger. */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      // A library error's message or stack may quote a URL with a bot token in it.
      serializers: { err: (error: Error) => scrubLogged(pino.stdSerializers.err(error)) },
      base: { pid: process.pid },
    },
    options.destination,
  );
}

const BOT_TOKEN_IN_URL = /bot\d+:[A-Za-z0-9_-]+/g;

/** Replaces known secret values and `bot<token>` URL segments in free text with `[REDACTED]`. */
export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(BOT_TOKEN_IN_URL, 'bot[REDACTED]');
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  return out;
}

/** A serialized error with every string in it scrubbed (message, stack, causes, extra fields). */
function scrubLogged<T>(serialized: T): T {
  return JSON.parse(
    JSON.stringify(serialized, (_key, value: unknown) =>
      typeof value === 'string' ? scrubSecrets(value) : value,
    ),
  ) as T;
}
