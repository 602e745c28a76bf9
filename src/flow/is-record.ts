/** Whether a parsed JSON value is an object with string keys (not null, not an array): the one guard. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
