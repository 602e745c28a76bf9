/** The benchmark runner's command line: --help is usage, not a benchmark name; unknown names exit 2. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const runner = join(import.meta.dirname, '..', '..', 'benchmarks', 'run.ts');
const bench = (...args: string[]) => spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8' });

describe('npm run bench', () => {
  it('--help prints the usage, where results go and the benchmarks, and runs none', () => {
    const run = bench('--help');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Usage: npm run bench/);
    assert.match(run.stdout, /benchmarks\/results\/local\/<name>\.json \(ignored by git/);
    assert.match(run.stdout, /Benchmarks: .*flow-engine/);
    assert.equal(run.stderr, '');
  });

  it('an unknown name exits 2 and points at --help', () => {
    const run = bench('nope');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown benchmark\(s\) or option\(s\): nope; available: .*--help for usage/);
  });
});
