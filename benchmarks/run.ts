/**
 * Runs every benchmark scenario (`npm run bench`, or `npm run bench -- <name> ...` for some), each in
 * its own process so they do not disturb each other, and saves each JSON result under
 * benchmarks/results/<name>.json (the latest run; git history keeps the older ones).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : available) {
  process.stderr.write(`== ${name}\n`);
  const run = spawnSync(process.execPath, ['--expose-gc', join(dir, `${name}.ts`)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const out = run.stdout.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(out.split('\n').at(-1) ?? '');
  } catch {
    parsed = undefined;
  }
  if (run.status !== 0 || parsed === undefined) {
    failed += 1;
    process.stderr.write(`${name} failed (exit ${run.status}); its output:\n${out}\n`);
    continue;
  }
  const result = { benchmark: name, date: new Date().toISOString(), ...(parsed as object) };
  writeFileSync(join(dir, 'results', `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
process.exit(failed > 0 ? 1 : 0);
