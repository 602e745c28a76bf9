/**
 * The one exponential backoff: the delay before retry `attempt` (1-based) is `baseMs` doubled per
 * earlier attempt, capped at `maxMs`. Callers add their own jitter.
 */
export function computeBackoff(attempt: number, baseMs: number, maxMs = Number.POSITIVE_INFINITY): number {
  // The exponent is capped so a long failure streak stays a finite number (2 ** 30 passes any cap).
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}
