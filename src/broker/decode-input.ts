/**
 * Reads an input message from a partition queue (pure): the JSON of a conversation `Dispatch`. A body
 * that is not one (another program's message, a corrupted one) is null, so the consumer answers it
 * with a coded BAD_REQUEST instead of failing.
 */
import type { Dispatch } from '../runtime/conversation-host.ts';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The input carried by a message body, or null when it is not a botflow input. */
export function decodeInput(body: unknown): Dispatch | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body));
  } catch {
    return null;
  }
  if (!isRecord(parsed) || typeof parsed['botId'] !== 'string' || typeof parsed['userId'] !== 'string')
    return null;
  // No event: only effects and records are committed (a decision the edge made for this user).
  const event = parsed['event'];
  if (event !== undefined && (!isRecord(event) || typeof event['type'] !== 'string')) return null;
  if (event === undefined && parsed['effects'] === undefined && parsed['records'] === undefined) return null;
  if (parsed['effects'] !== undefined && !Array.isArray(parsed['effects'])) return null;
  if (parsed['inputKey'] !== undefined && typeof parsed['inputKey'] !== 'string') return null;
  if (parsed['records'] !== undefined && !Array.isArray(parsed['records'])) return null;
  if (parsed['timer'] !== undefined && !isRecord(parsed['timer'])) return null;
  return parsed as unknown as Dispatch;
}
