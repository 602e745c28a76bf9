/**
 * Reads `/start` commands per Telegram's deep-link rules: `/start` or `/start@botname`, optionally
 * followed by a payload of at most 64 characters of A-Za-z0-9_- (anything else is no payload).
 */

/** The command, or null when the text is not a /start. */
export function parseStartCommand(text: string): { payload?: string } | null {
  const match = /^\/start(?:@[A-Za-z0-9_]{1,64})?(?:\s+(\S+))?\s*$/.exec(text.trim());
  if (match === null) return null;
  const payload = match[1];
  return payload !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(payload) ? { payload } : {};
}
