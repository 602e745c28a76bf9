import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../support/wait-for.ts';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'src', 'cli.ts');

describe('botflow demo --serve', { timeout: 90_000 }, () => {
  it('prints the console URL and a one-time login, serves the console until Ctrl-C, then stops', async () => {
    const child = spawn(process.execPath, [cli, 'demo', '--buyers', '3', '--serve'], {
      cwd: root,
      env: {
        ...process.env,
        BOTFLOW_DATA_DIR: await mkdtemp(join(tmpdir(), 'botflow-serve-demo-')),
        DATABASE_URL: '',
        REDIS_URL: '',
        BOTFLOW_ADMIN_TOKEN: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the console line', async () => /Serving until Ctrl-C/.test(stdout), 60_000, 100);
      assert.match(stdout, /OK: every paid order has access/);
      const url = /Console: (http:\/\/127\.0\.0\.1:\d+)\/console\n/.exec(stdout)?.[1];
      const token = /one-time admin token: (\S+)\n/.exec(stdout)?.[1];
      assert.ok(url !== undefined && token !== undefined, stdout);
      const login = await fetch(`${url}/console/login`, {
        method: 'POST',
        body: new URLSearchParams({ token }),
        redirect: 'manual',
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const overview = await fetch(`${url}/admin/overview?days=1`, { headers: { cookie } });
      assert.equal(overview.status, 200);
      assert.equal(((await overview.json()) as { paid: number }).paid > 0, true);
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /botflow stopped\s*$/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
