/**
 * The Telegram webhook, `POST /telegram/:botId` (served by the hot routes). The secret header is
 * compared in constant time (401 otherwise, nothing processed); the body is size-limited and must be
 * an update (4xx, never a crash); the answer is 200 only once the update's result is committed, and a
 * retryable failure becomes a 5xx so Telegram delivers it again. A button press's
 * `answerCallbackQuery` is the 200's body (a webhook reply), not a Bot API request. Per request it
 * hashes only the header given: the secret's digest is kept per bot (recomputed when it changes).
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BotflowError } from '../errors.ts';
import type { UpdateHandler } from '../bot/handle-update.ts';
import { readJsonBody } from './read-json-body.ts';

/** SHA-256, one shot: equal lengths for `timingSafeEqual` whatever the lengths of the secrets. */
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');
/** How many bots' secret digests are kept (the oldest are dropped first). */
const KEPT_DIGESTS = 10_000;
const BOT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Answers one webhook request: the 200's JSON body, or throws a coded error. */
export type TelegramWebhook = (botId: string, req: IncomingMessage) => Promise<unknown>;

/** Creates the webhook. `secretOf` returns the bot's webhook secret, or null for an unknown bot. */
export function createTelegramWebhook(options: {
  secretOf(botId: string): Promise<string | null>;
  handle: UpdateHandler;
  limitBytes?: number;
}): TelegramWebhook {
  const digests = new Map<string, { secret: string; digest: Buffer }>();
  /** The digest of the bot's current secret, computed once per secret. */
  const digestOf = (botId: string, secret: string): Buffer => {
    const kept = digests.get(botId);
    if (kept !== undefined && kept.secret === secret) return kept.digest;
    if (digests.size >= KEPT_DIGESTS) digests.delete(digests.keys().next().value!);
    const fresh = { secret, digest: digest(secret) };
    digests.set(botId, fresh);
    return fresh.digest;
  };
  return async (botId, req) => {
    const secret = BOT_ID.test(botId) ? await options.secretOf(botId) : null;
    const given = req.headers['x-telegram-bot-api-secret-token'];
    // Unknown bot and wrong secret look the same from outside.
    if (secret === null || typeof given !== 'string' || given === '')
      throw new BotflowError('UNAUTHORIZED', 'missing or wrong webhook secret');
    if (!timingSafeEqual(digest(given), digestOf(botId, secret)))
      throw new BotflowError('UNAUTHORIZED', 'missing or wrong webhook secret');
    const { value } = await readJsonBody(req, { limitBytes: options.limitBytes ?? 1 << 20 });
    // A callback query's answer rides this response (Telegram runs it) rather than a call of its own.
    return (await options.handle(botId, value, { webhookReply: true })) ?? {};
  };
}
