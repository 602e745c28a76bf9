/**
 * Regenerates the compiled machines in machines/ from their flow files (`npm run machines`):
 * `<name>.machine.json` (Stately import), `<name>.machine.ts` and `<name>.mmd`.
 * test/machines.test.ts fails when these are stale.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCompiled } from '../src/cli/commands/compile.ts';

const dir = join(import.meta.dirname, '..', 'machines');

/** The generated files for one flow file, by output name. */
export function renderMachineFiles(flowFile: string, flowText: string): Record<string, string> {
  const name = flowFile.replace(/\.flow\.json$/, '');
  const flow: unknown = JSON.parse(flowText);
  return {
    [`${name}.machine.json`]: renderCompiled(flow, 'json', flowFile),
    [`${name}.machine.ts`]: renderCompiled(flow, 'ts', flowFile),
    [`${name}.mmd`]: renderCompiled(flow, 'mermaid', flowFile),
  };
}

/** Lists the example flow files. */
export async function listFlowFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.flow.json')).sort();
}

if (import.meta.main) {
  for (const file of await listFlowFiles()) {
    const outputs = renderMachineFiles(file, await readFile(join(dir, file), 'utf8'));
    for (const [name, text] of Object.entries(outputs)) await writeFile(join(dir, name), text);
    process.stdout.write(`machines/${file} -> ${Object.keys(outputs).join(', ')}\n`);
  }
}
