/** `botflow validate <flow.json> [--json]`: exit 0 when valid, 1 when not. */
import { formatProblems } from '../format-problems.ts';
import type { CliIo } from '../io.ts';
import { readFlowFile } from '../read-flow.ts';

/** Validates a flow file and reports every problem. */
export async function runValidate(io: CliIo, file: string, options: { json: boolean }): Promise<number> {
  const result = await readFlowFile(io, file);
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ valid: result.valid, errors: result.errors, warnings: result.warnings })}\n`,
    );
  } else {
    const counts = `${result.errors.length} error(s), ${result.warnings.length} warning(s)`;
    io.stdout.write(`${file}: ${result.valid ? 'valid' : 'invalid'} (${counts})\n`);
    if (result.errors.length + result.warnings.length > 0) {
      io.stdout.write(`${formatProblems(result.errors, result.warnings)}\n`);
    }
  }
  return result.valid ? 0 : 1;
}
