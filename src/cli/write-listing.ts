/**
 * How the CLI prints a listing: with `--json` one JSON array on stdout (for scripts), otherwise a
 * table with a header, or one line saying there is nothing.
 */
import { formatTable } from './format-table.ts';
import type { CliIo } from './io.ts';

/** Writes `items` and returns the exit code (0). */
export function writeListing<T>(
  io: CliIo,
  items: T[],
  options: { json: boolean; empty: string; header: string[]; row(item: T): string[] },
): number {
  if (options.json) io.stdout.write(`${JSON.stringify(items)}\n`);
  else if (items.length === 0) io.stdout.write(`${options.empty}\n`);
  else io.stdout.write(formatTable([options.header, ...items.map(options.row)]));
  return 0;
}
