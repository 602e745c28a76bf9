/**
 * Loads a flow file for a CLI command: reads it, parses JSON (with line and column on failure) and
 * validates it, so every command reports bad flows the same way.
 */
import { BotflowError } from '../errors.ts';
import { validateFlowJson } from '../flow/parse-flow-json.ts';
import type { ValidationResult } from '../flow/validate.ts';
import type { CliIo } from './io.ts';

/** Reads and validates `path`; `text` is the file as written. Throws `BAD_REQUEST` when unreadable. */
export async function readFlowFile(io: CliIo, path: string): Promise<ValidationResult & { text: string }> {
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BotflowError('BAD_REQUEST', `cannot read flow file ${path} (${reason})`);
  }
  return { ...validateFlowJson(text), text };
}
