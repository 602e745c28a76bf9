/**
 * Registers a bot: reads its username with getMe when not given, stores it with a fresh webhook
 * secret (secrets sealed by the repository, never logged), and points Telegram at this deployment:
 * a webhook with the secret and explicit `allowed_updates`, or the long-polling loop when polling.
 */
import { randomBytes } from 'node:crypto';
import { Api } from 'grammy';
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

/** Creates the `addBot` function. */
export function createBotRegistrar(
  options: BotRegistrarOptions,
): (bot: BotRegistration) => Promise<{ username: string }> {
  return async (bot) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(bot.id))
      throw new BotflowError('BAD_REQUEST', 'a bot id is 1-64 characters of A-Za-z0-9_-');
    const api = new Api(bot.token, { apiRoot: options.apiRoot });
    let botInfo: Record<string, unknown> | null = null;
    let username = bot.username;
    if (username === undefined) {
      try {
        const me = await api.getMe();
        botInfo = { ...me };
        username = me.username;
      } catch {
        throw new BotflowError('UPSTREAM_REJECTED', 'Telegram refused the bot token (getMe failed)');
      }
    }
    const webhookSecret = randomBytes(24).toString('base64url');
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
    const base = options.baseUrl();
    const polling = options.polling();
    if (polling !== undefined) await polling.refresh();
    else if (bot.setWebhook !== false && base !== undefined) {
      try {
        await api.setWebhook(`${base}/telegram/${bot.id}`, {
          secret_token: webhookSecret,
          allowed_updates: [...ALLOWED_UPDATES],
        });
      } catch {
        throw new BotflowError('UPSTREAM_FAILED', 'Telegram did not accept the webhook');
      }
    }
    options.logger.info({ bot_id: bot.id, username }, 'bot registered');
    return { username };
  };
}
