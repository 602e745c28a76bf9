/**
 * Registers a bot: reads its username with getMe when not given, points Telegram at this deployment
 * (a webhook with a fresh secret and explicit `allowed_updates`), and only then stores it (secrets
 * sealed by the repository, never logged), so a refused webhook leaves nothing half-registered. Under
 * long polling the stored bot joins the polling loop instead.
 */
import { randomBytes } from 'node:crypto';
import { Api, GrammyError } from 'grammy';
import type { Logger } from 'pino';
import type { BotRepository, GatewaySettings, PixelSettings } from '../db/bot-repository.ts';
import { BotflowError } from '../errors.ts';
import { ALLOWED_UPDATES } from '../telegram/allowed-updates.ts';

/** A bot to register: `username` is read with getMe when omitted; the webhook is set when a base URL is known. */
export interface BotRegistration {
  id: string;
  token: string;
  username?: string;
  gateway?: GatewaySettings | null;
  pixel?: PixelSettings | null;
  /** Paid orders get join-request links (default) or, false, `member_limit: 1` links. */
  joinRequests?: boolean;
  /** Set the Telegram webhook to this deployment (default true when a URL is known; never when polling). */
  setWebhook?: boolean;
}

export interface BotRegistrarOptions {
  apiRoot: string;
  bots: BotRepository;
  logger: Logger;
  /** Drops what the edges cached about a bot (settings, clients, links). */
  forgetBot(botId: string): void;
  /** The public base URL webhooks go to, when known. */
  baseUrl(): string | undefined;
  /** The running long-polling loop, when botflow polls instead of taking webhooks. */
  polling(): { refresh(): Promise<void> } | undefined;
}

/** How long a Telegram call of the registration may take (grammY's default is minutes). */
const TELEGRAM_TIMEOUT_SECONDS = 15;

/** A Telegram failure as a coded error: an answer is a refusal, no answer is Telegram being unreachable. */
function describeTelegramFailure(error: unknown, refused: string, apiRoot: string): BotflowError {
  if (error instanceof GrammyError)
    return new BotflowError('UPSTREAM_REJECTED', `${refused}: ${error.description}`);
  const cause = (error as { error?: { code?: unknown; name?: unknown } } | null)?.error;
  const reason =
    typeof cause?.code === 'string' ? cause.code : typeof cause?.name === 'string' ? cause.name : 'no answer';
  return new BotflowError(
    'UPSTREAM_UNAVAILABLE',
    `Telegram could not be reached at ${new URL(apiRoot).host} (${reason}); nothing was registered`,
  );
}

/** Why Telegram cannot deliver webhooks to `url`, or undefined when it can (https on a public host). */
function describeUnreachableWebhook(url: string): string | undefined {
  const { protocol, hostname } = new URL(url);
  const local =
    /^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|0\.0\.0\.0|\[?::1\]?$|\[?f[cd])/i.test(
      hostname,
    );
  if (!local && protocol === 'https:') return undefined;
  return `the webhook points at ${new URL(url).origin}, which Telegram cannot reach (it needs a public https URL): set BOTFLOW_PUBLIC_URL, or run start --polling`;
}

/** Creates the `addBot` function. */
export function createBotRegistrar(
  options: BotRegistrarOptions,
): (bot: BotRegistration) => Promise<{ username: string; warning?: string }> {
  return async (bot) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(bot.id))
      throw new BotflowError('BAD_REQUEST', 'a bot id is 1-64 characters of A-Za-z0-9_-');
    const api = new Api(bot.token, {
      apiRoot: options.apiRoot,
      timeoutSeconds: TELEGRAM_TIMEOUT_SECONDS,
    });
    const failed = (error: unknown, refused: string): BotflowError => {
      const coded = describeTelegramFailure(error, refused, options.apiRoot);
      options.logger.warn({ bot_id: bot.id, code: coded.code, reason: coded.message }, 'bot not registered');
      return coded;
    };
    let botInfo: Record<string, unknown> | null = null;
    let username = bot.username;
    if (username === undefined) {
      try {
        const me = await api.getMe();
        botInfo = { ...me };
        username = me.username;
      } catch (error) {
        throw failed(error, 'Telegram refused the bot token (getMe failed)');
      }
    }
    const webhookSecret = randomBytes(24).toString('base64url');
    const base = options.baseUrl();
    const polling = options.polling();
    let warning: string | undefined;
    if (polling === undefined && bot.setWebhook !== false && base !== undefined) {
      const url = `${base}/telegram/${bot.id}`;
      warning = describeUnreachableWebhook(url);
      if (warning !== undefined) options.logger.warn({ bot_id: bot.id }, warning);
      try {
        await api.setWebhook(url, { secret_token: webhookSecret, allowed_updates: [...ALLOWED_UPDATES] });
      } catch (error) {
        throw failed(error, 'Telegram did not accept the webhook');
      }
    }
    await options.bots.upsert({
      id: bot.id,
      username,
      token: bot.token,
      webhookSecret,
      botInfo,
      gateway: bot.gateway ?? null,
      pixel: bot.pixel ?? null,
      ...(bot.joinRequests === undefined ? {} : { joinRequests: bot.joinRequests }),
    });
    options.forgetBot(bot.id);
    if (polling !== undefined) await polling.refresh();
    options.logger.info({ bot_id: bot.id, username }, 'bot registered');
    return { username, ...(warning === undefined ? {} : { warning }) };
  };
}
