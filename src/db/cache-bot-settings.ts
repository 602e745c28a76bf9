/**
 * Bot settings cached for a few seconds: the webhook path reads a bot's secret, token and pixel on
 * every update, and settings change rarely (`forget` drops a bot's at once when they do). A failed
 * read is not cached.
 */
import type { BotSettings } from './bot-repository.ts';
import type { PixelSettings } from '../tracking/pixel-settings.ts';

/** The cached settings of the bots. */
export interface BotSettingsCache {
  /** The bot's settings (null: no such bot), at most `ttlMs` old. */
  settingsOf(botId: string): Promise<BotSettings | null>;
  /** The bot's Meta pixel, or null (no bot, or no pixel). */
  pixelOf(botId: string): Promise<PixelSettings | null>;
  /** Drops the bot's cached settings. */
  forget(botId: string): void;
}

/** Caches `read` (the bot repository's `settings`) per bot for `ttlMs` on the `now` clock. */
export function createBotSettingsCache(options: {
  read(botId: string): Promise<BotSettings | null>;
  now(): number;
  ttlMs: number;
}): BotSettingsCache {
  const cache = new Map<string, { at: number; value: Promise<BotSettings | null> }>();
  const settingsOf = (botId: string): Promise<BotSettings | null> => {
    const hit = cache.get(botId);
    if (hit !== undefined && options.now() - hit.at < options.ttlMs) return hit.value;
    const value = options.read(botId);
    cache.set(botId, { at: options.now(), value });
    value.catch(() => cache.delete(botId));
    return value;
  };
  return {
    settingsOf,
    pixelOf: async (botId) => (await settingsOf(botId))?.pixel ?? null,
    forget: (botId) => void cache.delete(botId),
  };
}
