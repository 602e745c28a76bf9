/**
 * Validates flow JSON text: a file that is not JSON is one `schema` problem whose message gives the
 * line and column where parsing stopped.
 */
import { type ValidationResult, validateFlow } from './validate.ts';

/** Line and column (1-based) of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines.at(-1)!.length + 1 };
}

/** Parses and validates. Never throws. */
export function validateFlowJson(text: string): ValidationResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const lc = /line (\d+) column (\d+)/.exec(message);
    const position = /position (\d+)/.exec(message);
    const { line, column } = lc
      ? { line: Number(lc[1]), column: Number(lc[2]) }
      : lineAndColumn(text, position ? Number(position[1]) : text.length);
    const reason = message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ in JSON at position \d+/, '');
    return {
      valid: false,
      errors: [
        { code: 'schema', path: '', message: `not valid JSON at line ${line}, column ${column}: ${reason}` },
      ],
      warnings: [],
    };
  }
  return validateFlow(value);
}
