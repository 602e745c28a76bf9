/**
 * The botflow CLI: parses arguments, runs a command, and is the one place where errors become exit
 * codes and messages (0 ok, 1 the input is invalid, 2 usage or runtime error).
 */
import { parseArgs } from 'node:util';
import { BotflowError, toBotflowError } from '../errors.ts';
import { getFlowJsonSchema } from '../flow/schema.ts';
import { runCompile } from './commands/compile.ts';
import { runDemoCommand } from './commands/demo.ts';
import { runMigrate } from './commands/migrate.ts';
import { runPay } from './commands/pay.ts';
import { runStart } from './commands/start.ts';
import { runSimulate } from './commands/simulate.ts';
import { runValidate } from './commands/validate.ts';
import { formatProblems } from './format-problems.ts';
import type { CliIo } from './io.ts';

export const USAGE = `Usage: botflow <command> [options]

Commands:
  validate <flow.json> [--json]                        check a flow; exit 0 valid, 1 invalid
  compile <flow.json> [--format json|ts|mermaid] [-o FILE]
                                                       print the XState machine (json: Stately import)
  simulate <flow.json> [--events FILE.jsonl] [--json]  chat with a flow on a virtual clock
  schema                                               print the flow format's JSON Schema
  migrate                                              apply database migrations (DATABASE_URL or embedded)
  start                                                run botflow (webhooks, tracking links, admin API, metrics)
  demo [--buyers N] [--workers W] [--json]             the whole funnel offline: fake Telegram, sandbox PIX,
                                                       fake Meta, N simulated buyers; prints a funnel report
                                                       (W > 1 runs a real cluster: needs DATABASE_URL, REDIS_URL)
  pay <charge-id> [--gateway URL] [--status paid|expired|failed]
                                                       settle a charge on the sandbox gateway
  help                                                 this text
`;

type Options = Record<string, string | boolean | undefined>;

const OPTIONS = {
  json: { type: 'boolean' },
  format: { type: 'string', short: 'f' },
  output: { type: 'string', short: 'o' },
  events: { type: 'string', short: 'e' },
  help: { type: 'boolean', short: 'h' },
  buyers: { type: 'string', short: 'n' },
  workers: { type: 'string', short: 'w' },
  gateway: { type: 'string' },
  status: { type: 'string' },
} as const;

function requireFile(positionals: string[], command: string): string {
  const file = positionals[1];
  if (file === undefined)
    throw new BotflowError('BAD_REQUEST', `${command} needs a flow file: botflow ${command} <flow.json>`);
  if (positionals.length > 2) throw new BotflowError('BAD_REQUEST', `unexpected argument: ${positionals[2]}`);
  return file;
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
      return runStart(io, io.env ?? {});
    case 'demo':
      if (positionals.length > 1)
        throw new BotflowError('BAD_REQUEST', `unexpected argument: ${positionals[1]}`);
      return runDemoCommand(io, io.env ?? {}, {
        json: options.json === true,
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
      throw new BotflowError('BAD_REQUEST', `unknown command "${command}" (botflow help lists them)`);
  }
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    let parsed: ReturnType<
      typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>
    >;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new BotflowError('BAD_REQUEST', (error as Error).message);
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
    if (error.code === 'INTERNAL' && error.cause instanceof Error) io.stderr.write(`${error.cause.stack}\n`);
    if (error.code === 'BAD_REQUEST') io.stderr.write('Run `botflow help` for usage.\n');
    return 2;
  }
}
