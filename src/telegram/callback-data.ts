/**
 * Inline-button callback data, always within Telegram's 64 bytes: a button press carries the flow (a
 * tag of its id), the flow version, the step (a tag of its id) and the button index, so a press is
 * matched by identity and a button of another flow, version or step is recognised as stale.
 * Formats (tags are `hashId`, numbers base36):
 * - `c.<flowTag>.<version>.<stepTag>.<index>`: a flow button (at most 2 + 8 + 8 + 8 + 2 = 28 bytes);
 * - `c.<version>.<stepTag>.<index>`: a flow button rendered before buttons named their flow (still in
 *   chats; decoded with `flow: null`, and matched by version and step only);
 * - `p`: "I have paid".
 * Decoding needs no flow: the conversation matches the tags against its own flow version.
 */
import { hashId } from '../flow/hash-id.ts';

/** A decoded press: a flow button names its flow (null in the older format), version, step tag and index. */
export type CallbackData =
  { kind: 'click'; flow: string | null; version: number; step: string; index: number } | { kind: 'paid' };

/** Encodes a press; `flow` is the flow's id (absent only to reproduce the older, untagged format). */
export function encodeCallbackData(
  data: { flow?: string; version: number; step: string; index: number } | { kind: 'paid' },
): string {
  if ('kind' in data) return 'p';
  const flow = data.flow === undefined ? '' : `${hashId(data.flow)}.`;
  return `c.${flow}${data.version.toString(36)}.${hashId(data.step)}.${data.index.toString(36)}`;
}

/** The largest flow version that can exist (versions are Postgres `integer`s); above it, data is forged. */
export const MAX_FLOW_VERSION = 2 ** 31 - 1;

const TAG = '([0-9a-z]{1,7})';
const CLICK = new RegExp(`^c\\.(?:${TAG}\\.)?${TAG}\\.${TAG}\\.([0-9a-z]{1,2})$`);

/** Decodes callback data; null when it is no button a published flow version could have rendered. */
export function decodeCallbackData(data: string): CallbackData | null {
  if (data === 'p') return { kind: 'paid' };
  const match = CLICK.exec(data);
  if (match === null) return null;
  const version = Number.parseInt(match[2]!, 36);
  if (!(version >= 1 && version <= MAX_FLOW_VERSION)) return null;
  return {
    kind: 'click',
    flow: match[1] ?? null,
    version,
    step: match[3]!,
    index: Number.parseInt(match[4]!, 36),
  };
}
