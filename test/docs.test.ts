/**
 * The documentation a clone ships with is self-contained: the flow format contract is in docs/, and no
 * README, doc or source file points outside the repository (a clone has no ../shared).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..');

/** Every file under `dir` (relative to the root) ending in one of `extensions`. */
function filesUnder(dir: string, extensions: string[]): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory())
      return name === 'results' ? [] : filesUnder(path, extensions);
    return extensions.some((e) => name.endsWith(e)) ? [path] : [];
  });
}

describe('documentation', () => {
  it('ships the flow format contract and links nothing outside the repository', () => {
    assert.match(
      readFileSync(join(root, 'docs', 'flow-format.md'), 'utf8'),
      /^# Flow definition format \(v1\)/,
    );
    const files = [
      'README.md',
      ...filesUnder('docs', ['.md']),
      ...filesUnder('benchmarks', ['.md']),
      ...filesUnder('src', ['.ts']),
    ];
    const outside = files.filter((file) => readFileSync(join(root, file), 'utf8').includes('../shared'));
    assert.deepEqual(outside, []);
  });

  it("the READMEs' relative links point at files of the repository", () => {
    for (const file of ['README.md', 'benchmarks/README.md']) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const path = join(root, dirname(file), target!);
        assert.ok(path.startsWith(root) && existsSync(path), `${file} links ${target}`);
      }
    }
  });
});
