/**
 * Finds where a parsed JSON value nests too deep. `JSON.parse` accepts any depth, but recursive code
 * downstream (`JSON.stringify`, structured clone, schema libraries) overflows the call stack on it, so
 * depth is checked first, without recursion.
 */

/** Escapes one JSON pointer segment (RFC 6901). */
function segment(s: string | number): string {
  return String(s).replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * The JSON pointer of the first array or object nested more than `max` levels deep in `value` (the
 * value itself is level 1), or null when none is. Iterative: any depth is safe.
 */
export function findDeepNesting(value: unknown, max: number): string | null {
  const pending: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 1, path: '' }];
  while (pending.length > 0) {
    const item = pending.pop()!;
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth > max) return item.path;
    const entries = Array.isArray(item.value)
      ? item.value.map((v, i) => [i, v] as const)
      : Object.entries(item.value as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (typeof child === 'object' && child !== null)
        pending.push({ value: child, depth: item.depth + 1, path: `${item.path}/${segment(key)}` });
    }
  }
  return null;
}
