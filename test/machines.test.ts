import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listFlowFiles, renderMachineFiles } from '../scripts/build-machines.ts';

const dir = join(import.meta.dirname, '..', 'machines');

describe('machines/', () => {
  it('holds at least three example flows', async () => {
    assert.ok((await listFlowFiles()).length >= 3);
  });

  it('compiled machines are up to date with their flows (run `npm run machines` if not)', async () => {
    for (const file of await listFlowFiles()) {
      const outputs = renderMachineFiles(file, await readFile(join(dir, file), 'utf8'));
      for (const [name, text] of Object.entries(outputs)) {
        const onDisk = await readFile(join(dir, name), 'utf8').catch(() => '(missing)');
        assert.equal(onDisk, text, `machines/${name} is stale`);
      }
    }
  });
});
