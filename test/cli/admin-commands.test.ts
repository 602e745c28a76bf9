import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

const ADMIN = 'cli-admin-token-0123456789';
const TOKEN = '7300000001:AAcli-secret-token-never-printed';
const OTHER_TOKEN = '7300000002:AAanother-secret-never-printed';
const SECRET_PART = /secret-token-never-printed|another-secret-never-printed|cli-admin-token/;

let fresh: FreshDatabase;
let fake: FakeBotApi;
let app: BotflowApp;
let dir: string;
const outputs: string[] = [];

async function cli(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    isTTY: false,
    env: { BOTFLOW_URL: app.url, BOTFLOW_ADMIN_TOKEN: ADMIN, ...env },
    readFile: (p) => readFile(p, 'utf8'),
    writeFile: (p, t) => writeFile(p, t, 'utf8'),
  };
  const code = await runCli(argv, io);
  outputs.push(stdout, stderr);
  return { code, stdout, stderr };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  fresh = await createFreshDatabase();
  fake = await startFakeBotApi();
  fake.addBot({ token: TOKEN, id: 7300000001, username: 'cli_test_bot' });
  fake.addBot({ token: OTHER_TOKEN, id: 7300000002, username: 'cli_other_bot' });
  app = await bootstrap({
    env: { DATABASE_URL: fresh.url, BOTFLOW_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent' },
    config: { telegramApiRoot: fake.url },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
  });
  dir = await mkdtemp(join(tmpdir(), 'botflow-cli-admin-'));
  await writeFile(join(dir, 'token'), `${TOKEN}\n`);
});
after(async () => {
  await app.close();
  await fake.close();
  await fresh.drop();
});

describe('botflow bots', () => {
  it('adds a bot from a token file: getMe names it, the webhook is set, the listing shows it', async () => {
    const added = await cli(['bots', 'add', '--id', 'clibot', '--token-file', join(dir, 'token')]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /registered bot clibot \(@cli_test_bot\)/);
    assert.equal(fake.callsOf(TOKEN, 'getMe').length, 1);
    assert.equal(fake.callsOf(TOKEN, 'setWebhook').at(-1)?.params['url'], `${app.url}/telegram/clibot`);

    const list = await cli(['bots', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+USERNAME\s+INVITE LINKS\s+REGISTERED\n/);
    assert.match(list.stdout, /clibot\s+@cli_test_bot\s+join request\s+\d{4}-/);
    const json = await cli(['bots', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(json.stdout) as Array<{ id: string; username: string }>).map((b) => [b.id, b.username]),
      [['clibot', 'cli_test_bot']],
    );
  });

  it('adds a bot from an environment variable, with a username, gateway and pixel files', async () => {
    const gateway = join(dir, 'gateway.json');
    const pixel = join(dir, 'pixel.json');
    await writeFile(
      gateway,
      JSON.stringify({
        kind: 'sandbox',
        api_base: 'http://127.0.0.1:1',
        api_key: 'k',
        webhook_secret: 'gateway-secret',
      }),
    );
    await writeFile(pixel, JSON.stringify({ pixel_id: '123', access_token: 'meta-token' }));
    const added = await cli(
      [
        'bots',
        'add',
        '--id',
        'other',
        '--token-env',
        'OTHER_BOT_TOKEN',
        '--username',
        '@cli_other_bot',
        '--gateway-file',
        gateway,
        '--pixel-file',
        pixel,
        '--no-join-requests',
        '--json',
      ],
      { OTHER_BOT_TOKEN: OTHER_TOKEN },
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).username, 'cli_other_bot');
    assert.equal(JSON.parse(added.stdout).joinRequests, false, '--no-join-requests: member_limit 1 links');
    assert.match((await cli(['bots', 'list'])).stdout, /other\s+@cli_other_bot\s+member limit 1/);
    const updated = await cli(['bots', 'update', 'other', '--join-requests', '--json']);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(JSON.parse(updated.stdout).joinRequests, true, 'changed without the token');
    assert.equal((await app.funnel.bots.settings('other'))?.pixel?.pixel_id, '123', 'the pixel stays');
    const nothing = await cli(['bots', 'update', 'other']);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /needs --gateway-file, --pixel-file/);
    const unknown = await cli(['bots', 'update', 'nobody', '--no-join-requests']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /NOT_FOUND/);
    assert.equal(fake.callsOf(OTHER_TOKEN, 'getMe').length, 0, 'a given username skips getMe');
    const settings = await app.funnel.bots.settings('other');
    assert.equal(settings?.gateway?.kind, 'sandbox');
    assert.equal(settings?.pixel?.pixel_id, '123');
  });

  it('the server refuses a bad registration with its code and field problems, exit 2', async () => {
    const badToken = join(dir, 'bad-token');
    await writeFile(badToken, 'not-a-token');
    const r = await cli(['bots', 'add', '--id', 'bad', '--token-file', badToken]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /BAD_REQUEST: the body does not have the expected shape/);
    assert.match(r.stderr, /token: a Telegram bot token/);
    assert.doesNotMatch(r.stderr, /not-a-token/, 'the rejected value is not echoed');
    assert.doesNotMatch(r.stderr, /botflow help/, "the server's verdict is not a usage error");
    const refused = await cli(['bots', 'add', '--id', 'bad', '--token-env', 'T'], {
      T: '7399999999:AAunknown-to-telegram-xxxxxxx',
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /UPSTREAM_REJECTED: Telegram refused the bot token/);
  });

  it('refuses a token given as an argument, and other bad arguments, with exit 2 and a message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['bots', 'add', '--id', 'x', '--token', TOKEN], /never pass a bot token as an argument/],
      [['bots', 'add', '--id', 'x', `--token=${TOKEN}`], /never pass a bot token as an argument/],
      [['bots', 'add', '--id', 'x'], /exactly one of --token-file FILE or --token-env VAR/],
      [['bots', 'add', '--id', 'x', '--token-file', 'a', '--token-env', 'B'], /exactly one of --token-file/],
      [['bots', 'add', '--id', 'x', '--token-env', 'UNSET_VAR'], /UNSET_VAR is not set/],
      [['bots', 'add', '--id', 'x', '--token-file', join(dir, 'missing')], /cannot read token file .*ENOENT/],
      [['bots', 'add', '--token-file', join(dir, 'token')], /needs --id/],
      [['bots', 'add', 'x', TOKEN], /takes no arguments/],
      [['bots', 'remove'], /needs a bot id/],
      [['bots', 'list', '--slug', 'x'], /bots list does not take --slug/],
      [['bots'], /needs a subcommand/],
      [['bots', 'frob'], /needs a subcommand/],
      [['links', 'add', '--slug', 'x'], /needs --slug SLUG and --bot/],
      [['links', 'remove', 'a', 'b'], /takes one argument/],
      [['links', 'list', '--url', 'ftp://x'], /--url .* must be the http\(s\) base URL/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /BAD_REQUEST/, argv.join(' '));
      assert.match(r.stderr, message, argv.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const gateway = join(dir, 'broken.json');
    await writeFile(gateway, '{"api_key": "gateway-key-in-a-broken-file"');
    const broken = await cli([
      'bots',
      'add',
      '--id',
      'x',
      '--token-file',
      join(dir, 'token'),
      '--gateway-file',
      gateway,
    ]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /INVALID_JSON: gateway file .* is not valid JSON/);
    assert.doesNotMatch(broken.stderr, /gateway-key-in-a-broken-file/);
  });

  it('without the admin token, or with a wrong one, fails with a coded error', async () => {
    const missing = await cli(['bots', 'list'], { BOTFLOW_ADMIN_TOKEN: undefined });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /CONFIG_INVALID: BOTFLOW_ADMIN_TOKEN must be set/);
    const wrong = await cli(['bots', 'list'], { BOTFLOW_ADMIN_TOKEN: 'wrong-token-0123456789' });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /UNAUTHORIZED/);
  });

  it('Telegram unreachable is UPSTREAM_UNAVAILABLE (not a refused token), logged, and registers nothing', async () => {
    const logs: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    );
    const offline = await bootstrap({
      env: { DATABASE_URL: fresh.url, BOTFLOW_ADMIN_TOKEN: ADMIN },
      config: { telegramApiRoot: `http://127.0.0.1:${await closedPort()}` },
      http: { port: 0 },
      timerIntervalMs: 0,
      jobsIntervalMs: 0,
      logger,
    });
    try {
      const r = await cli(['bots', 'add', '--id', 'offline', '--token-file', join(dir, 'token')], {
        BOTFLOW_URL: offline.url,
      });
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /UPSTREAM_UNAVAILABLE: Telegram could not be reached at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
      );
      assert.doesNotMatch(r.stderr, /refused the bot token|Run `botflow help`/);
      assert.ok(
        logs.some((line) => /"code":"UPSTREAM_UNAVAILABLE"/.test(line) && /bot not registered/.test(line)),
        logs.join(''),
      );
      assert.doesNotMatch(logs.join(''), SECRET_PART);
      const list = await cli(['bots', 'list', '--json'], { BOTFLOW_URL: offline.url });
      assert.ok(!JSON.parse(list.stdout).some((b: { id: string }) => b.id === 'offline'));
    } finally {
      await offline.close();
    }
  });

  it('a webhook Telegram refuses leaves no bot registered; a local webhook URL is warned about', async () => {
    const token = '7300000003:AAthird-secret-token-never-printed';
    fake.addBot({ token, id: 7300000003, username: 'cli_third_bot' });
    await writeFile(join(dir, 'third-token'), token);
    fake.injectError({ status: 400, method: 'setWebhook', token, description: 'Bad Request: bad webhook' });
    const add = ['bots', 'add', '--id', 'halfbot', '--token-file', join(dir, 'third-token')];
    const refused = await cli([...add, '--username', 'cli_third_bot']);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /UPSTREAM_REJECTED: Telegram did not accept the webhook: Bad Request: bad webhook/,
    );
    const list = await cli(['bots', 'list', '--json']);
    assert.ok(!JSON.parse(list.stdout).some((b: { id: string }) => b.id === 'halfbot'), list.stdout);

    const added = await cli(add);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stderr,
      /warning: the webhook points at http:\/\/127\.0\.0\.1:\d+, which Telegram cannot reach.*BOTFLOW_PUBLIC_URL/,
    );
    // Registering it again under another id: the conflict says what exists.
    const twice = await cli(['bots', 'add', '--id', 'halfbot2', '--token-file', join(dir, 'third-token')]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /CONFLICT: bots with username cli_third_bot already exists\n$/);
    assert.equal((await cli(['bots', 'remove', 'halfbot'])).code, 0);
  });

  it('a server that is down is a coded UPSTREAM_FAILED, never a stack', async () => {
    const port = await closedPort();
    for (const env of [{ BOTFLOW_URL: undefined, PORT: String(port) }, {}]) {
      const argv =
        Object.keys(env).length === 0
          ? ['bots', 'list', '--url', `http://127.0.0.1:${port}`]
          : ['bots', 'list'];
      const r = await cli(argv, env);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        new RegExp(`UPSTREAM_FAILED: botflow at http://127.0.0.1:${port} did not answer`),
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});

describe('botflow links', () => {
  it('adds, lists (all and per bot) and removes tracking links', async () => {
    const added = await cli([
      'links',
      'add',
      '--slug',
      'ad-1',
      '--bot',
      'clibot',
      '--campaign',
      'black-friday',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout,
      /added tracking link ad-1 -> @cli_test_bot \(campaign black-friday\).*\/r\/ad-1/,
    );
    const presell = await cli(['links', 'add', '--slug', 'ad-2', '--bot', 'other', '--presell']);
    assert.equal(presell.code, 0, presell.stderr);
    assert.match(presell.stdout, /with a presell page/);
    const redirect = await fetch(`${app.url}/r/ad-1`, { redirect: 'manual' });
    assert.ok([200, 302].includes(redirect.status), 'the link resolves');

    const list = await cli(['links', 'list']);
    assert.match(list.stdout, /^SLUG\s+BOT\s+USERNAME\s+CAMPAIGN\s+PRESELL\n/);
    assert.match(list.stdout, /ad-1\s+clibot\s+@cli_test_bot\s+black-friday\s+no/);
    assert.match(list.stdout, /ad-2\s+other\s+@cli_other_bot\s+-\s+yes/);
    const mine = await cli(['links', 'list', '--bot', 'clibot', '--json']);
    assert.deepEqual(JSON.parse(mine.stdout), [
      {
        slug: 'ad-1',
        botId: 'clibot',
        botUsername: 'cli_test_bot',
        campaign: 'black-friday',
        presell: false,
      },
    ]);

    const unknownBot = await cli(['links', 'add', '--slug', 'ad-3', '--bot', 'nobot']);
    assert.equal(unknownBot.code, 2);
    assert.match(unknownBot.stderr, /BAD_REQUEST: bot nobot does not exist/);

    const renamed = await cli(['links', 'update', 'ad-1', '--campaign', 'cyber-monday', '--json']);
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.deepEqual(JSON.parse(renamed.stdout), {
      slug: 'ad-1',
      botId: 'clibot',
      botUsername: 'cli_test_bot',
      campaign: 'cyber-monday',
      presell: false,
    });
    const toggled = await cli(['links', 'update', 'ad-2', '--no-presell']);
    assert.equal(toggled.code, 0, toggled.stderr);
    assert.match(toggled.stdout, /updated tracking link ad-2: campaign -, presell off/);
    assert.equal((await app.funnel.links.get('ad-2'))?.presell, false, 'the change is visible at once');
    const nothing = await cli(['links', 'update', 'ad-1']);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /links update needs --campaign NAME, --presell or --no-presell/);
    const missing = await cli(['links', 'update', 'nope', '--presell']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /NOT_FOUND: no such link/);

    assert.equal((await cli(['links', 'remove', 'ad-1'])).code, 0);
    const gone = await cli(['links', 'remove', 'ad-1']);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /NOT_FOUND: no such link/);
    assert.deepEqual(
      (JSON.parse((await cli(['links', 'list', '--json'])).stdout) as Array<{ slug: string }>).map(
        (l) => l.slug,
      ),
      ['ad-2'],
    );
    assert.equal((await cli(['links', 'remove', 'ad-2'])).code, 0);
    assert.match((await cli(['links', 'list'])).stdout, /no tracking links/);
  });

  it('flows publish checks a flow here, then publishes it as a new version; an invalid one publishes nothing', async () => {
    const vip = new URL('../../machines/vip-funnel.flow.json', import.meta.url).pathname;
    const first = await cli(['flows', 'publish', vip, '--bot', 'clibot', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const published = JSON.parse(first.stdout) as { bot_id: string; flowId: string; version: number };
    assert.deepEqual([published.bot_id, published.flowId, published.version], ['clibot', 'vip-funnel', 1]);
    const second = await cli(['flows', 'publish', vip, '--bot', 'clibot']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /published flow vip-funnel version 2 for bot clibot/);
    assert.equal((await app.source.latest('clibot'))?.version, 2, 'the bot runs the newest version');

    const broken = join(dir, 'broken.flow.json');
    await writeFile(broken, JSON.stringify({ id: 'broken', flow_start_step_id: 'nowhere', flow_steps: [] }));
    const refused = await cli(['flows', 'publish', broken, '--bot', 'clibot']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not a valid flow; nothing was published/);
    assert.equal(await app.flows.getFlow('broken'), null, 'not even saved as a draft');
    const noBot = await cli(['flows', 'publish', vip]);
    assert.equal(noBot.code, 2);
    assert.match(noBot.stderr, /needs a flow file and --bot BOT/);
  });

  it('bots remove unregisters a bot; removing it again is NOT_FOUND', async () => {
    assert.equal((await cli(['bots', 'remove', 'other'])).code, 0);
    const again = await cli(['bots', 'remove', 'other']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /NOT_FOUND: no such bot/);
    const ids = (JSON.parse((await cli(['bots', 'list', '--json'])).stdout) as Array<{ id: string }>).map(
      (b) => b.id,
    );
    assert.deepEqual(ids, ['clibot']);
  });

  it('no output of any command ever contained a token', () => {
    assert.ok(outputs.length > 20);
    for (const text of outputs) assert.doesNotMatch(text, SECRET_PART);
  });
});

describe('botflow start --polling', () => {
  it('refuses more than one worker', async () => {
    const r = await cli(['start', '--polling'], {
      REDIS_URL: 'redis://127.0.0.1:6379',
      BOTFLOW_WORKERS: '4',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /BAD_REQUEST: --polling runs one process/);
  });
});
