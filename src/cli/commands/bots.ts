/**
 * `botflow bots add|list|remove`: registers, lists and removes bots through a running botflow's admin
 * API. A token is read from a file or an environment variable, never from an argument (argv shows up
 * in `ps` and shell history), and is never printed.
 */
import { BotflowError } from '../../errors.ts';
import type { AdminClient } from '../admin-client.ts';
import { writeListing } from '../write-listing.ts';
import type { CliIo } from '../io.ts';

/** What `bots add` reads. */
export interface AddBotOptions {
  id?: string;
  tokenFile?: string;
  tokenEnv?: string;
  username?: string;
  gatewayFile?: string;
  pixelFile?: string;
  /** false: paid orders get `member_limit: 1` links (groups without join requests). */
  joinRequests?: boolean;
  json: boolean;
}

interface BotRecord {
  id: string;
  username: string;
  joinRequests: boolean;
  createdAt: string;
}

async function readText(io: CliIo, path: string, what: string): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BotflowError('BAD_REQUEST', `cannot read ${what} ${path} (${code})`);
  }
}

/** Reads a JSON settings file; its content is never echoed (it holds credentials). */
async function readSettings(io: CliIo, path: string, what: string): Promise<unknown> {
  const text = await readText(io, path, what);
  try {
    return JSON.parse(text);
  } catch {
    throw new BotflowError('INVALID_JSON', `${what} ${path} is not valid JSON`);
  }
}

async function readToken(io: CliIo, options: AddBotOptions): Promise<string> {
  if ((options.tokenFile === undefined) === (options.tokenEnv === undefined))
    throw new BotflowError(
      'BAD_REQUEST',
      'bots add needs the bot token from exactly one of --token-file FILE or --token-env VAR',
    );
  const token =
    options.tokenFile !== undefined
      ? (await readText(io, options.tokenFile, 'token file')).trim()
      : (io.env?.[options.tokenEnv!] ?? '').trim();
  if (token === '')
    throw new BotflowError(
      'BAD_REQUEST',
      options.tokenFile !== undefined
        ? `token file ${options.tokenFile} is empty`
        : `environment variable ${options.tokenEnv} is not set`,
    );
  return token;
}

/** The settings part of a bot's body: the gateway and pixel files given, and the invite-link mode. */
async function readBotSettings(
  io: CliIo,
  options: { gatewayFile?: string; pixelFile?: string; joinRequests?: boolean },
): Promise<Record<string, unknown>> {
  return {
    ...(options.gatewayFile === undefined
      ? {}
      : { gateway: await readSettings(io, options.gatewayFile, 'gateway file') }),
    ...(options.pixelFile === undefined
      ? {}
      : { pixel: await readSettings(io, options.pixelFile, 'pixel file') }),
    ...(options.joinRequests === undefined ? {} : { join_requests: options.joinRequests }),
  };
}

/** `bots add`: registers (or updates) a bot; the server checks the token with getMe and sets its webhook. */
export async function runBotsAdd(io: CliIo, client: AdminClient, options: AddBotOptions): Promise<number> {
  if (options.id === undefined)
    throw new BotflowError('BAD_REQUEST', 'bots add needs --id ID (1-64 of A-Za-z0-9_-)');
  const token = await readToken(io, options);
  const body = {
    id: options.id,
    token,
    ...(options.username === undefined ? {} : { username: options.username.replace(/^@/, '') }),
    ...(await readBotSettings(io, options)),
  };
  const { bot } = (await client.request('POST', '/admin/bots', body)) as {
    bot: BotRecord & { warning?: string };
  };
  if (options.json) io.stdout.write(`${JSON.stringify(bot)}\n`);
  else io.stdout.write(`registered bot ${bot.id} (@${bot.username}) on ${client.url}\n`);
  if (bot.warning !== undefined) io.stderr.write(`botflow: warning: ${bot.warning}\n`);
  return 0;
}

/** `bots list`: ids, usernames and registration times; tokens are never part of a listing. */
export async function runBotsList(
  io: CliIo,
  client: AdminClient,
  options: { json: boolean },
): Promise<number> {
  const { bots } = (await client.request('GET', '/admin/bots')) as { bots: BotRecord[] };
  return writeListing(io, bots, {
    json: options.json,
    empty: 'no bots registered',
    header: ['ID', 'USERNAME', 'INVITE LINKS', 'REGISTERED'],
    row: (b) => [b.id, `@${b.username}`, b.joinRequests ? 'join request' : 'member limit 1', b.createdAt],
  });
}

/** `bots update ID [--gateway-file F] [--pixel-file F] [--join-requests | --no-join-requests]`. */
export async function runBotsUpdate(
  io: CliIo,
  client: AdminClient,
  id: string | undefined,
  options: { gatewayFile?: string; pixelFile?: string; joinRequests?: boolean; json: boolean },
): Promise<number> {
  if (id === undefined)
    throw new BotflowError('BAD_REQUEST', 'bots update needs a bot id: botflow bots update ID [options]');
  const body = await readBotSettings(io, options);
  if (Object.keys(body).length === 0)
    throw new BotflowError(
      'BAD_REQUEST',
      'bots update needs --gateway-file, --pixel-file, --join-requests or --no-join-requests',
    );
  const { bot } = (await client.request('PATCH', `/admin/bots/${encodeURIComponent(id)}`, body)) as {
    bot: BotRecord;
  };
  if (options.json) io.stdout.write(`${JSON.stringify(bot)}\n`);
  else io.stdout.write(`updated bot ${bot.id} (@${bot.username}): ${Object.keys(body).join(', ')}\n`);
  return 0;
}

/** `bots remove ID`. */
export async function runBotsRemove(io: CliIo, client: AdminClient, id: string | undefined): Promise<number> {
  if (id === undefined)
    throw new BotflowError('BAD_REQUEST', 'bots remove needs a bot id: botflow bots remove ID');
  await client.request('DELETE', `/admin/bots/${encodeURIComponent(id)}`);
  io.stdout.write(`removed bot ${id}\n`);
  return 0;
}
