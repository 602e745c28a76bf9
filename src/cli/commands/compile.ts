/** `botflow compile <flow.json> [--format json|ts|mermaid] [-o FILE]`. */
import { BotflowError } from '../../errors.ts';
import { compileFlow } from '../../flow/compile.ts';
import { emitMermaid } from '../../flow/emit-mermaid.ts';
import { emitModule } from '../../flow/emit-module.ts';
import type { CliIo } from '../io.ts';
import { readFlowFile } from '../read-flow.ts';

const COMPILE_FORMATS = ['json', 'ts', 'mermaid'] as const;
export type CompileFormat = (typeof COMPILE_FORMATS)[number];

/** Renders a valid flow's machine in one of the formats. */
export function renderCompiled(flow: unknown, format: CompileFormat, source: string): string {
  const compiled = compileFlow(flow);
  if (format === 'json') return `${JSON.stringify(compiled.config, null, 2)}\n`;
  if (format === 'ts') return emitModule(compiled.config, compiled.delays, source);
  return emitMermaid(compiled.config);
}

/** Compiles a flow file; an invalid flow is reported like `validate` and exits 1. */
export async function runCompile(
  io: CliIo,
  file: string,
  options: { format: string; output?: string },
): Promise<number> {
  if (!(COMPILE_FORMATS as readonly string[]).includes(options.format)) {
    throw new BotflowError('BAD_REQUEST', `--format must be one of ${COMPILE_FORMATS.join(', ')}`);
  }
  const result = await readFlowFile(io, file);
  if (!result.valid) {
    throw new BotflowError('INVALID_FLOW', `${file} is invalid`, { details: result.errors });
  }
  const text = renderCompiled(result.flow, options.format as CompileFormat, file.split('/').at(-1) ?? file);
  if (options.output === undefined) io.stdout.write(text);
  else await io.writeFile(options.output, text);
  return 0;
}
