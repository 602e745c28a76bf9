/**
 * The botflow CLI: parses arguments, runs a command, and is the one place where errors become exit
 * codes and messages (0 ok, 1 the input is invalid, 2 usage or runtime error).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BotflowError, toBotflowError } from '../errors.ts';
import { getFlowJsonSchema } from '../flow/schema.ts';
import { type AdminClient, createAdminClient } from './admin-client.ts';
import { runBotsAdd, runBotsList, runBotsRemove, runBotsUpdate } from './commands/bots.ts';
import { runCompile } from './commands/compile.ts';
import { runDemoCommand } from './commands/demo.ts';
import { runFlowsPublish } from './commands/flows.ts';
import { runLinksAdd, runLinksList, runLinksRemove, runLinksUpdate } from './commands/links.ts';
import { runMigrate } from './commands/migrate.ts';
import { runPay } from './commands/pay.ts';
import { runPaymentsList, runPaymentsRefund } from './commands/payments.ts';
import { runConversionsStats } from './commands/conversions.ts';
import { runStart } from './commands/start.ts';
import { runSimulate } from './commands/simulate.ts';
import { runValidate } from './commands/validate.ts';
import { formatProblems } from './format-problems.ts';
import type { CliIo } from './io.ts';

const USAGE = `Usage: botflow <command> [options]

Commands:
  validate <flow.json> [--json]                        check a flow; exit 0 valid, 1 invalid
  compile <flow.json> [--format json|ts|mermaid] [-o FILE]
                                                       print the XState machine (json: Stately import)
  simulate <flow.json> [--events FILE.jsonl] [--json]  chat with a flow on a virtual clock
  schema                                               print the flow format's JSON Schema
  migrate                                              apply database migrations (DATABASE_URL or embedded)
  start [--polling]                                    run botflow (webhooks, tracking links, admin API, metrics);
                                                       --polling: long polling instead of webhooks, for
                                                       development without a public URL (one process only)
  demo [--buyers N] [--workers W] [--json] [--keep] [--serve]
                                                       the whole funnel offline: fake Telegram, sandbox PIX,
                                                       fake Meta, N simulated buyers; prints a funnel report
                                                       (W > 1 runs a real cluster: needs DATABASE_URL, REDIS_URL).
                                                       It removes what it wrote unless --keep. --serve keeps
                                                       botflow and its console (/console) up until Ctrl-C
  pay <charge-id> [--gateway URL] [--status paid|expired|failed]
                                                       settle a charge on the sandbox gateway

Bots, tracking links, flows and payments (talk to a running botflow's admin API at --url, default BOTFLOW_URL or
http://127.0.0.1:$PORT, with the token in BOTFLOW_ADMIN_TOKEN):
  bots add --id ID (--token-file FILE | --token-env VAR) [--username NAME]
           [--gateway-file gateway.json] [--pixel-file pixel.json] [--no-join-requests] [--json]
                                                       register a bot: its token is checked with getMe, then
                                                       its webhook set (or, under start --polling, polled).
                                                       A token is never accepted as an argument: argv leaks
                                                       into ps and shell history. --no-join-requests: paid
                                                       orders get member_limit 1 links instead of join requests
  bots update ID [--gateway-file gateway.json] [--pixel-file pixel.json]
                 [--join-requests | --no-join-requests] [--json]
                                                       change a bot's gateway, pixel or invite links
                                                       without registering it again (no token needed)
  bots list [--json]                                   registered bots (tokens are never shown)
  bots remove ID                                       unregister a bot
  links add --slug SLUG --bot BOT [--campaign NAME] [--presell] [--json]
                                                       a tracking link: ads point at <public URL>/r/SLUG
  links update SLUG [--campaign NAME] [--presell | --no-presell] [--json]
                                                       change a link's campaign or presell page
  links list [--bot BOT] [--json]                      tracking links
  links remove SLUG                                    delete a tracking link
  flows publish <flow.json> --bot BOT [--json]         check a flow, save it as the bot's draft and publish it
                                                       as a new version (buyers move to it on /start)
  payments list --bot BOT [--user ID] [--status pending|paid|expired|failed|refunded] [--json]
                                                       a bot's payments, newest first, with their access
  payments refund ORDER_ID [--amount-cents N] [--json]
                                                       refund a paid order at its gateway (all, or N
                                                       centavos); a full refund removes the buyer's access
  conversions stats [--bot BOT] [--json]               Meta events per name: sent / pending / dead, and the share
                                                       of sent ones carrying fbc, fbp, IP+UA, em, ph, external_id

  help                                                 this text
  --version                                            botflow's version
`;

type Options = Record<string, string | boolean | undefined>;

const OPTIONS = {
  json: { type: 'boolean' },
  format: { type: 'string', short: 'f' },
  output: { type: 'string', short: 'o' },
  events: { type: 'string', short: 'e' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  buyers: { type: 'string', short: 'n' },
  workers: { type: 'string', short: 'w' },
  gateway: { type: 'string' },
  status: { type: 'string' },
  polling: { type: 'boolean' },
  keep: { type: 'boolean' },
  serve: { type: 'boolean' },
  url: { type: 'string' },
  id: { type: 'string' },
  // Accepted only to refuse it with a clear message: a token in argv leaks.
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'token-env': { type: 'string' },
  username: { type: 'string' },
  'gateway-file': { type: 'string' },
  'pixel-file': { type: 'string' },
  slug: { type: 'string' },
  bot: { type: 'string' },
  campaign: { type: 'string' },
  presell: { type: 'boolean' },
  'join-requests': { type: 'boolean' },
  'amount-cents': { type: 'string' },
  user: { type: 'string' },
} as const;

/** Options each admin subcommand takes (anything else is a usage error). */
const ADMIN_OPTIONS: Record<string, readonly string[]> = {
  'bots add': [
    'url',
    'id',
    'token-file',
    'token-env',
    'username',
    'gateway-file',
    'pixel-file',
    'join-requests',
    'json',
  ],
  'bots list': ['url', 'json'],
  'bots update': ['url', 'gateway-file', 'pixel-file', 'join-requests', 'json'],
  'bots remove': ['url'],
  'links add': ['url', 'slug', 'bot', 'campaign', 'presell', 'json'],
  'links list': ['url', 'bot', 'json'],
  'links remove': ['url'],
  'links update': ['url', 'campaign', 'presell', 'json'],
  'payments refund': ['url', 'amount-cents', 'json'],
  'flows publish': ['url', 'bot', 'json'],
  'payments list': ['url', 'bot', 'user', 'status', 'json'],
  'conversions stats': ['url', 'bot', 'json'],
};

function requireFile(positionals: string[], command: string): string {
  const file = positionals[1];
  if (file === undefined)
    throw new BotflowError('BAD_REQUEST', `${command} needs a flow file: botflow ${command} <flow.json>`);
  if (positionals.length > 2) throw new BotflowError('BAD_REQUEST', `unexpected argument: ${positionals[2]}`);
  return file;
}

/** Errors the admin API answered with: the server's verdict, so no usage hint follows them. */
const serverErrors = new WeakSet<object>();

/** Marks what `client` throws as the server's. */
function markServerErrors(client: AdminClient): AdminClient {
  return {
    url: client.url,
    request: (...args) =>
      client.request(...args).catch((error: unknown) => {
        if (typeof error === 'object' && error !== null) serverErrors.add(error);
        throw error;
      }),
  };
}

/** The version in package.json. */
async function readVersion(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

const text = (value: string | boolean | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

const SUBCOMMANDS: Record<string, string> = {
  bots: 'add, list, update or remove',
  links: 'add, list, update or remove',
  payments: 'list or refund',
  flows: 'publish',
  conversions: 'stats',
};

/** `bots ...`, `links ...` and `payments ...`: checks the subcommand and its options, then calls the admin API. */
async function dispatchAdmin(io: CliIo, positionals: string[], options: Options): Promise<number> {
  const [group, sub, target, extra] = positionals;
  const name = `${group} ${sub ?? ''}`;
  const allowed = ADMIN_OPTIONS[name];
  if (allowed === undefined)
    throw new BotflowError(
      'BAD_REQUEST',
      `${group} needs a subcommand: ${SUBCOMMANDS[group ?? ''] ?? 'see botflow help'}`,
    );
  for (const [option, value] of Object.entries(options))
    if (value !== undefined && !allowed.includes(option))
      throw new BotflowError('BAD_REQUEST', `${name} does not take --${option}`);
  const takesTarget = sub === 'remove' || sub === 'update' || sub === 'refund' || sub === 'publish';
  // Not echoed: a stray argument may be a pasted secret.
  if ((takesTarget ? extra : target) !== undefined)
    throw new BotflowError(
      'BAD_REQUEST',
      `${name} takes ${takesTarget ? 'one argument' : 'no arguments, only options'}`,
    );
  const client = markServerErrors(createAdminClient(io.env ?? {}, text(options.url)));
  const json = options.json === true;
  switch (name) {
    case 'bots add':
      return runBotsAdd(io, client, {
        json,
        id: text(options.id),
        tokenFile: text(options['token-file']),
        tokenEnv: text(options['token-env']),
        username: text(options.username),
        gatewayFile: text(options['gateway-file']),
        pixelFile: text(options['pixel-file']),
        ...(typeof options['join-requests'] === 'boolean' ? { joinRequests: options['join-requests'] } : {}),
      });
    case 'bots list':
      return runBotsList(io, client, { json });
    case 'bots update':
      return runBotsUpdate(io, client, target, {
        json,
        gatewayFile: text(options['gateway-file']),
        pixelFile: text(options['pixel-file']),
        ...(typeof options['join-requests'] === 'boolean' ? { joinRequests: options['join-requests'] } : {}),
      });
    case 'bots remove':
      return runBotsRemove(io, client, target);
    case 'links add':
      return runLinksAdd(io, client, {
        json,
        slug: text(options.slug),
        bot: text(options.bot),
        campaign: text(options.campaign),
        presell: options.presell === true,
      });
    case 'links list':
      return runLinksList(io, client, { json, bot: text(options.bot) });
    case 'links update':
      return runLinksUpdate(io, client, target, {
        json,
        ...(typeof options.campaign === 'string' ? { campaign: options.campaign } : {}),
        ...(typeof options.presell === 'boolean' ? { presell: options.presell } : {}),
      });
    case 'flows publish':
      return runFlowsPublish(io, client, target, { json, bot: text(options.bot) });
    case 'payments list':
      return runPaymentsList(io, client, {
        json,
        bot: text(options.bot),
        user: text(options.user),
        status: text(options.status),
      });
    case 'payments refund':
      return runPaymentsRefund(io, client, target, { json, amountCents: text(options['amount-cents']) });
    case 'conversions stats':
      return runConversionsStats(io, client, { json, bot: text(options.bot) });
    default:
      return runLinksRemove(io, client, target);
  }
}

async function dispatch(io: CliIo, positionals: string[], options: Options): Promise<number> {
  const command = positionals[0];
  switch (command) {
    case undefined:
    case 'help':
      io.stdout.write(USAGE);
      return 0;
    case 'validate':
      return runValidate(io, requireFile(positionals, command), { json: options.json === true });
    case 'compile':
      return runCompile(io, requireFile(positionals, command), {
        format: typeof options.format === 'string' ? options.format : 'json',
        ...(typeof options.output === 'string' ? { output: options.output } : {}),
      });
    case 'simulate':
      return runSimulate(io, requireFile(positionals, command), {
        json: options.json === true,
        ...(typeof options.events === 'string' ? { events: options.events } : {}),
      });
    case 'start':
      if (positionals.length > 1)
        throw new BotflowError('BAD_REQUEST', `unexpected argument: ${positionals[1]}`);
      return runStart(io, io.env ?? {}, { polling: options.polling === true });
    case 'bots':
    case 'links':
    case 'payments':
    case 'flows':
    case 'conversions':
      return dispatchAdmin(io, positionals, options);
    case 'demo':
      if (positionals.length > 1)
        throw new BotflowError('BAD_REQUEST', `unexpected argument: ${positionals[1]}`);
      return runDemoCommand(io, io.env ?? {}, {
        json: options.json === true,
        keep: options.keep === true,
        serve: options.serve === true,
        ...(typeof options.buyers === 'string' ? { buyers: options.buyers } : {}),
        ...(typeof options.workers === 'string' ? { workers: options.workers } : {}),
      });
    case 'pay':
      return runPay(io, positionals[1], {
        gateway:
          typeof options.gateway === 'string' ? options.gateway : (io.env?.['SANDBOX_GATEWAY_URL'] ?? ''),
        status: typeof options.status === 'string' ? options.status : 'paid',
        apiKey: io.env?.['SANDBOX_API_KEY'] ?? 'sandbox-key',
      });
    case 'migrate':
      return runMigrate(io, io.env ?? {});
    case 'schema':
      io.stdout.write(`${JSON.stringify(getFlowJsonSchema(), null, 2)}\n`);
      return 0;
    default:
      throw new BotflowError('BAD_REQUEST', `unknown command "${command}"`);
  }
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    let parsed: ReturnType<
      typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>
    >;
    if (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version') {
      io.stdout.write(`botflow ${await readVersion()}\n`);
      return 0;
    }
    try {
      parsed = parseArgs({
        args: argv,
        options: OPTIONS,
        allowPositionals: true,
        allowNegative: true,
        strict: true,
      });
    } catch (error) {
      // Node's message adds advice about `--` that only confuses here: the option is unknown, full stop.
      const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
      throw new BotflowError('BAD_REQUEST', message);
    }
    if (parsed.values.token !== undefined)
      throw new BotflowError(
        'BAD_REQUEST',
        'never pass a bot token as an argument (it leaks into ps and shell history): use --token-file FILE or --token-env VAR',
      );
    if (parsed.values.version === true) {
      io.stdout.write(`botflow ${await readVersion()}\n`);
      return 0;
    }
    if (parsed.values.help === true) {
      io.stdout.write(USAGE);
      return 0;
    }
    return await dispatch(io, parsed.positionals, parsed.values);
  } catch (thrown) {
    const error = toBotflowError(thrown);
    if (error.code === 'INVALID_FLOW') {
      const problems = Array.isArray(error.details) ? error.details : [];
      io.stderr.write(`botflow: ${error.message}\n${formatProblems(problems, [])}\n`);
      return 1;
    }
    io.stderr.write(`botflow: ${error.code}: ${error.message}\n`);
    // The server's field problems (admin API): where and what, never the rejected value.
    if (Array.isArray(error.details))
      for (const problem of error.details as Array<{ path?: unknown; message?: unknown }>)
        if (typeof problem?.message === 'string')
          io.stderr.write(
            `  ${typeof problem.path === 'string' && problem.path !== '' ? `${problem.path}: ` : ''}${problem.message}\n`,
          );
    if (error.code === 'INTERNAL' && error.cause instanceof Error) io.stderr.write(`${error.cause.stack}\n`);
    if (error.code === 'BAD_REQUEST' && !serverErrors.has(error))
      io.stderr.write('Run `botflow help` for usage.\n');
    return 2;
  }
}
