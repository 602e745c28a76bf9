import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { startFakeBotApi } from '../../src/sim/fake-bot-api.ts';

const root = join(import.meta.dirname, '..', '..');
const vipPath = join(root, 'machines', 'vip-funnel.flow.json');

async function cli(argv: string[], stdinLines: string[] = [], env?: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: (async function* () {
      yield* stdinLines;
    })(),
    isTTY: false,
    ...(env === undefined ? {} : { env }),
    readFile: (p) => readFile(p, 'utf8'),
    writeFile: (p, t) => writeFile(p, t, 'utf8'),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'botflow-cli-'));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('botflow CLI', () => {
  it('validate --json prints one object and exits 0 for a valid flow', async () => {
    const r = await cli(['validate', vipPath, '--json']);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { valid: true, errors: [], warnings: [] });
  });

  it('validate exits 1 and points at each problem', async () => {
    const path = await tempFile(
      'bad.json',
      JSON.stringify({
        id: 'x',
        flow_start_step_id: 'nope',
        flow_steps: [{ id: 'a', type: 'end', config: {} }],
      }),
    );
    const json = await cli(['validate', path, '--json']);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout);
    assert.equal(report.valid, false);
    assert.deepEqual(report.errors, [
      { code: 'missing_start_step', path: '/flow_start_step_id', message: 'no step has id "nope"' },
    ]);
    const text = await cli(['validate', path]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /invalid/);
    assert.match(text.stdout, /error/);
  });

  it('a file that is not JSON is a schema error with line and column', async () => {
    const path = await tempFile('broken.json', '{\n  "id": "x",\n  oops\n}');
    const r = await cli(['validate', path, '--json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.errors[0].code, 'schema');
    assert.match(report.errors[0].message, /line 3/);
  });

  it('usage errors exit 2 with a coded message, never a stack', async () => {
    for (const argv of [
      ['validate'],
      ['frobnicate'],
      ['validate', 'a.json', '--nope'],
      ['compile', vipPath, '--format', 'xml'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /BAD_REQUEST/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const missing = await cli(['validate', '/definitely/not/here.json']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /ENOENT/);
  });

  it('compile prints JSON, a TS module, or Mermaid, and writes -o files', async () => {
    const json = await cli(['compile', vipPath]);
    assert.equal(json.code, 0);
    const config = JSON.parse(json.stdout);
    assert.equal(config.id, 'vip-funnel');
    assert.ok('offers' in config.states);
    const ts = await cli(['compile', vipPath, '--format', 'ts']);
    assert.match(ts.stdout, /createMachine\(\{/);
    const mermaid = await cli(['compile', vipPath, '--format', 'mermaid']);
    assert.match(mermaid.stdout, /^stateDiagram-v2/);
    const out = join(await mkdtemp(join(tmpdir(), 'botflow-cli-')), 'm.json');
    const written = await cli(['compile', vipPath, '-o', out]);
    assert.equal(written.code, 0);
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), config);
  });

  it('compile and simulate refuse an invalid flow with exit 1', async () => {
    const path = await tempFile('bad.json', '{"id":"x","flow_start_step_id":"a","flow_steps":[]}');
    assert.equal((await cli(['compile', path])).code, 1);
    assert.equal((await cli(['simulate', path])).code, 1);
  });

  it('simulate --events --json prints the transcript', async () => {
    const events = await tempFile(
      'events.jsonl',
      [
        '{"type":"start"}',
        '{"type":"text","text":"a@b.com"}',
        '# a comment',
        '{"type":"click","text":"VIP Mensal"}',
        '{"type":"pay"}',
      ].join('\n'),
    );
    const r = await cli(['simulate', vipPath, '--events', events, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout);
    assert.equal(t.current_step, 'access');
    assert.equal(t.status, 'done');
    assert.deepEqual(
      t.outputs.map((o: { kind: string }) => o.kind),
      ['message', 'message', 'buttons', 'charge', 'access'],
    );
  });

  it('a bad events line is reported with its number', async () => {
    const events = await tempFile('events.jsonl', '{"type":"start"}\n{"type":"dance"}\n');
    const r = await cli(['simulate', vipPath, '--events', events, '--json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 2/);
  });

  it('simulate without --events is a chat: numbers pick buttons, commands settle charges', async () => {
    const r = await cli(['simulate', vipPath], ['x@y.com', '2', '/wait 1', '/pay', '/quit']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1\) VIP Mensal/);
    assert.match(r.stdout, /PIX charge R\$ 97,00/);
    assert.match(r.stdout, /access granted/);
  });

  it('the chat answers every line: no charge, an idle wait, an unknown command, a missing button, a finished conversation', async () => {
    const r = await cli(
      ['simulate', vipPath],
      ['/pay', '/wait 1', '/bogus', 'x@y.com', '9', '2', '/pay', '/pay', '/fail', '/quit'],
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const after = (typed: string) => lines.find((l) => l.includes(typed));
    assert.ok(after('[notice] No open charge to act on.'), r.stdout);
    assert.ok(after('(1 min passed; nothing was due)'), r.stdout);
    assert.ok(after('(unknown command /bogus; /help lists them)'), r.stdout);
    assert.equal(
      lines.filter((l) => l.includes('Qual é o seu melhor e-mail?')).length,
      1,
      '/bogus is no answer',
    );
    assert.ok(after('(no button 9: the buttons are numbered 1 to 2)'), r.stdout);
    assert.equal(lines.filter((l) => l.includes('access granted')).length, 1, r.stdout);
    assert.equal(
      lines.filter((l) => l.includes('The conversation is done: no charge to act on')).length,
      2,
      r.stdout,
    );
  });

  it('simulate --events: /pay after the conversation is done grants nothing', async () => {
    const events = await tempFile(
      'events.jsonl',
      [
        '{"type":"start"}',
        '{"type":"text","text":"a@b.com"}',
        '{"type":"click","text":"VIP Mensal"}',
        '{"type":"pay"}',
        '{"type":"pay"}',
      ].join('\n'),
    );
    const r = await cli(['simulate', vipPath, '--events', events, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const kinds = JSON.parse(r.stdout).outputs.map((o: { kind: string }) => o.kind);
    assert.deepEqual(kinds, ['message', 'message', 'buttons', 'charge', 'access', 'notice']);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    for (const argv of [['--version'], ['-v'], ['version']]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `botflow ${version}\n`);
    }
  });

  it('an unknown command or option says so once, with one usage hint', async () => {
    const command = await cli(['frob']);
    assert.equal(command.code, 2);
    assert.equal(
      command.stderr,
      'botflow: BAD_REQUEST: unknown command "frob"\nRun `botflow help` for usage.\n',
    );
    const option = await cli(['validate', vipPath, '--frob']);
    assert.equal(option.code, 2);
    assert.equal(
      option.stderr,
      "botflow: BAD_REQUEST: Unknown option '--frob'\nRun `botflow help` for usage.\n",
    );
  });

  it('schema prints a JSON Schema that rejects unknown fields', async () => {
    const r = await cli(['schema']);
    const schema = JSON.parse(r.stdout);
    assert.equal(schema.type, 'object');
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties.flow_steps);
  });

  it('npx botflow runs from the repository root on the pinned Node', async () => {
    const run = promisify(execFile);
    const { stdout } = await run('npx', ['--no-install', 'botflow', 'validate', vipPath, '--json'], {
      cwd: root,
    });
    assert.equal(JSON.parse(stdout).valid, true);
  });
});

// A child that never starts or never exits fails its test instead of stalling the suite.
describe('botflow start', { timeout: 120_000 }, () => {
  it('starts on the embedded database, answers /healthz, and drains on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const dataDir = await mkdtemp(join(tmpdir(), 'botflow-start-'));
    const child = spawn(process.execPath, [join(root, 'src', 'cli.ts'), 'start'], {
      env: { ...process.env, BOTFLOW_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /draining/);
  });

  it('--polling on the embedded database: a bot added with the CLI answers /start, then drains', async () => {
    const { spawn } = await import('node:child_process');
    const fake = await startFakeBotApi();
    const token = '7400000001:AApolling-e2e-token-xxxxxxxx';
    fake.addBot({ token, id: 7400000001, username: 'e2e_polling_bot' });
    const admin = 'e2e-admin-token-0123456789';
    const dataDir = await mkdtemp(join(tmpdir(), 'botflow-polling-'));
    const child = spawn(process.execPath, [join(root, 'src', 'cli.ts'), 'start', '--polling'], {
      env: {
        ...process.env,
        BOTFLOW_DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'silent',
        DATABASE_URL: '',
        REDIS_URL: '',
        TELEGRAM_API_ROOT: fake.url,
        BOTFLOW_ADMIN_TOKEN: admin,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let stderr = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(stderr);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const env = { BOTFLOW_URL: url, BOTFLOW_ADMIN_TOKEN: admin, E2E_TOKEN: token };
      const added = await cli(['bots', 'add', '--id', 'e2e', '--token-env', 'E2E_TOKEN'], [], env);
      assert.equal(added.code, 0, added.stderr);
      const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
      const vip = JSON.parse(await readFile(vipPath, 'utf8'));
      const saved = await fetch(`${url}/admin/flows/vip-funnel`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ bot_id: 'e2e', definition: vip }),
      });
      assert.equal(saved.status, 200);
      assert.equal(
        (await fetch(`${url}/admin/flows/vip-funnel/publish`, { method: 'POST', headers })).status,
        201,
      );
      assert.equal(fake.callsOf(token, 'setWebhook').length, 0, 'polling never sets a webhook');
      fake.pushUpdate(token, {
        message: {
          message_id: 1,
          date: 1,
          chat: { id: 42, type: 'private' },
          from: { id: 42, is_bot: false, first_name: 'E' },
          text: '/start',
        },
      });
      for (let i = 0; i < 1000 && fake.callsOf(token, 'sendMessage').length === 0; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const sent = fake.callsOf(token, 'sendMessage');
      assert.ok(sent.length >= 1, "the flow's first message reached Telegram");
      assert.equal(Number(sent[0]!.params['chat_id']), 42);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.match(stderr, /polling Telegram for updates/);
    } finally {
      child.kill('SIGKILL');
      await fake.close();
    }
  });
});

describe('a port in use', { timeout: 120_000 }, () => {
  it('start exits 2 at once with PORT_IN_USE naming the port and PORT, no stack, no poller noise', async () => {
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const run = promisify(execFile);
      const dataDir = await mkdtemp(join(tmpdir(), 'botflow-port-'));
      const failed = await run(process.execPath, [join(root, 'src', 'cli.ts'), 'start'], {
        env: {
          ...process.env,
          BOTFLOW_DATA_DIR: dataDir,
          PORT: String(port),
          DATABASE_URL: '',
          REDIS_URL: '',
        },
      }).then(
        () => assert.fail('start succeeded on a taken port'),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      assert.equal(failed.code, 2);
      assert.equal(
        failed.stderr,
        `botflow: PORT_IN_USE: port ${port} is in use (another botflow?); set PORT to a free port\n`,
      );
      assert.equal(failed.stdout, '');
      // "At once": refused before the embedded database was even created (no wall-clock limit here).
      assert.deepEqual(await readdir(dataDir), []);
    } finally {
      holder.close();
    }
  });

  it('bootstrap losing the port stops its loops: PORT_IN_USE, then no timer poll against a closed database', async () => {
    const [{ createServer }, { Writable }, { default: pino }, { bootstrap }, { createFreshDatabase }] =
      await Promise.all([
        import('node:net'),
        import('node:stream'),
        import('pino'),
        import('../../src/bootstrap.ts'),
        import('../db/fresh-database.ts'),
      ]);
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    const fresh = await createFreshDatabase();
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    try {
      await assert.rejects(
        bootstrap({
          env: { DATABASE_URL: fresh.url },
          http: { port },
          timerIntervalMs: 50,
          logger: pino({ level: 'info' }, sink),
        }),
        (error: { code?: string; message: string }) =>
          error.code === 'PORT_IN_USE' && error.message.includes(`port ${port} is in use`),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(
        logs.filter((line) => /timer poll failed/.test(line)),
        [],
      );
    } finally {
      holder.close();
      await fresh.drop();
    }
  });
});
