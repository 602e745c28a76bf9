/**
 * `botflow links add|list|remove`: tracking links (an ad points at `/r/<slug>`, which records the click
 * and redirects to the bot with a token in /start) managed through a running botflow's admin API.
 */
import { BotflowError } from '../../errors.ts';
import type { AdminClient } from '../admin-client.ts';
import { writeListing } from '../write-listing.ts';
import type { CliIo } from '../io.ts';

interface LinkRecord {
  slug: string;
  botId: string;
  botUsername: string;
  campaign: string | null;
  presell: boolean;
}

/** `links add --slug S --bot BOT [--campaign C] [--presell]`. */
export async function runLinksAdd(
  io: CliIo,
  client: AdminClient,
  options: { slug?: string; bot?: string; campaign?: string; presell?: boolean; json: boolean },
): Promise<number> {
  if (options.slug === undefined || options.bot === undefined)
    throw new BotflowError('BAD_REQUEST', 'links add needs --slug SLUG and --bot BOT_ID');
  const { link } = (await client.request('POST', '/admin/tracking-links', {
    slug: options.slug,
    bot_id: options.bot,
    ...(options.campaign === undefined ? {} : { campaign: options.campaign }),
    ...(options.presell === true ? { presell: true } : {}),
  })) as { link: LinkRecord };
  if (options.json) io.stdout.write(`${JSON.stringify(link)}\n`);
  else
    io.stdout.write(
      `added tracking link ${link.slug} -> @${link.botUsername}` +
        `${link.campaign === null ? '' : ` (campaign ${link.campaign})`}` +
        `${link.presell ? ', with a presell page' : ''}; point ads at <public URL>/r/${link.slug}\n`,
    );
  return 0;
}

/** `links list [--bot BOT] [--json]`. */
export async function runLinksList(
  io: CliIo,
  client: AdminClient,
  options: { bot?: string; json: boolean },
): Promise<number> {
  const query = options.bot === undefined ? '' : `?bot_id=${encodeURIComponent(options.bot)}`;
  const { links } = (await client.request('GET', `/admin/tracking-links${query}`)) as { links: LinkRecord[] };
  return writeListing(io, links, {
    json: options.json,
    empty: 'no tracking links',
    header: ['SLUG', 'BOT', 'USERNAME', 'CAMPAIGN', 'PRESELL'],
    row: (l) => [l.slug, l.botId, `@${l.botUsername}`, l.campaign ?? '-', l.presell ? 'yes' : 'no'],
  });
}

/** `links update SLUG [--campaign C] [--presell | --no-presell]`. */
export async function runLinksUpdate(
  io: CliIo,
  client: AdminClient,
  slug: string | undefined,
  options: { campaign?: string; presell?: boolean; json: boolean },
): Promise<number> {
  if (slug === undefined)
    throw new BotflowError('BAD_REQUEST', 'links update needs a slug: botflow links update SLUG [options]');
  if (options.campaign === undefined && options.presell === undefined)
    throw new BotflowError('BAD_REQUEST', 'links update needs --campaign NAME, --presell or --no-presell');
  const { link } = (await client.request('PATCH', `/admin/tracking-links/${encodeURIComponent(slug)}`, {
    ...(options.campaign === undefined ? {} : { campaign: options.campaign }),
    ...(options.presell === undefined ? {} : { presell: options.presell }),
  })) as { link: LinkRecord };
  if (options.json) io.stdout.write(`${JSON.stringify(link)}\n`);
  else
    io.stdout.write(
      `updated tracking link ${link.slug}: campaign ${link.campaign ?? '-'}, presell ${link.presell ? 'on' : 'off'}\n`,
    );
  return 0;
}

/** `links remove SLUG`. */
export async function runLinksRemove(
  io: CliIo,
  client: AdminClient,
  slug: string | undefined,
): Promise<number> {
  if (slug === undefined)
    throw new BotflowError('BAD_REQUEST', 'links remove needs a slug: botflow links remove SLUG');
  await client.request('DELETE', `/admin/tracking-links/${encodeURIComponent(slug)}`);
  io.stdout.write(`removed tracking link ${slug}\n`);
  return 0;
}
