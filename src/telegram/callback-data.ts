/**
 * Inline-button callback data, always within Telegram's 64 bytes: a button press carries the flow
 * version, the step (as a short hash, resolved against the version's step ids) and the button index,
 * so a press is matched by identity and a button of an older step or version is recognised as stale.
 * Formats: `c.<version36>.<stepHash>.<index36>` for a flow button, `p` for "I have paid".
 */

/** A decoded press. */
export type CallbackData =
  | { kind: 'click'; version: number; step: string; index: number }
  | { kind: 'paid' }
  | { kind: 'unknown_step'; version: number; index: number };

/** FNV-1a (32 bit) of a step id, base36: short, stable, and collisions are refused at decode time. */
export function hashStepId(stepId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < stepId.length; i++) {
    h ^= stepId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** Encodes a press (at most 1 + 1 + 7 + 1 + 7 + 1 + 2 bytes for any version < 36^7 and index < 36^2). */
export function encodeCallbackData(
  data: { version: number; step: string; index: number } | { kind: 'paid' },
): string {
  if ('kind' in data) return 'p';
  return `c.${data.version.toString(36)}.${hashStepId(data.step)}.${data.index.toString(36)}`;
}

/** The largest flow version that can exist (versions are Postgres `integer`s); above it, data is forged. */
export const MAX_FLOW_VERSION = 2 ** 31 - 1;

const CLICK = /^c\.([0-9a-z]{1,7})\.([0-9a-z]{1,7})\.([0-9a-z]{1,2})$/;

/** The flow version a button's data names, or null when it is no flow button a published version could render. */
export function readCallbackVersion(data: string): number | null {
  const match = CLICK.exec(data);
  if (match === null) return null;
  const version = Number.parseInt(match[1]!, 36);
  return version >= 1 && version <= MAX_FLOW_VERSION ? version : null;
}

/** Decodes callback data against the step ids of its flow version; null when it is not ours. */
export function decodeCallbackData(
  data: string,
  stepIdsOf: (version: number) => readonly string[] | null,
): CallbackData | null {
  if (data === 'p') return { kind: 'paid' };
  const match = CLICK.exec(data);
  const version = readCallbackVersion(data);
  if (match === null || version === null) return null;
  const index = Number.parseInt(match[3]!, 36);
  const candidates = (stepIdsOf(version) ?? []).filter((id) => hashStepId(id) === match[2]);
  if (candidates.length !== 1) return { kind: 'unknown_step', version, index };
  return { kind: 'click', version, step: candidates[0]!, index };
}
