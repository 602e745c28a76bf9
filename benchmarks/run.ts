/**
 * Runs every benchmark scenario (`npm run bench`, or `npm run bench -- <name> ...` for some), each in
 * its own process so they do not disturb each other, and saves each JSON result under
 * benchmarks/results/local/<name>.json, which git ignores: a run never rewrites the committed summary
 * in benchmarks/results/<name>.json (copy a run there to publish it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const local = join(dir, 'results', 'local');
const usage = `Usage: npm run bench [-- <name> ...]

Runs the benchmarks (all, or the ones named), each in its own process, prints one JSON line per
result and saves it to benchmarks/results/local/<name>.json (ignored by git; the committed summary
is benchmarks/results/<name>.json). Exit 1 when one fails, 2 for an unknown name.

Benchmarks: ${available.join(', ')}
`;
const wanted = process.argv.slice(2);
if (wanted.some((w) => w === '--help' || w === '-h' || w === 'help')) {
  process.stdout.write(usage);
  process.exit(0);
}
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s) or option(s): ${unknown.join(', ')}; available: ${available.join(', ')} (--help for usage)\n`,
  );
  process.exit(2);
}
mkdirSync(local, { recursive: true });
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
  writeFileSync(join(local, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
process.exit(failed > 0 ? 1 : 0);
