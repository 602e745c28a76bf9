/**
 * `botflow flows publish`: checks a flow file here (the same validation as `validate`), then saves it
 * as the bot's draft on a running botflow and publishes it as a new immutable version, through the
 * admin API. Conversations in progress keep their version; `/start` moves a buyer to the newest.
 */
import { BotflowError } from '../../errors.ts';
import { readFlowFile } from '../read-flow.ts';
import type { AdminClient } from '../admin-client.ts';
import type { CliIo } from '../io.ts';

/** `flows publish <flow.json> --bot BOT [--json]`. */
export async function runFlowsPublish(
  io: CliIo,
  client: AdminClient,
  file: string | undefined,
  options: { bot?: string; json: boolean },
): Promise<number> {
  if (file === undefined || options.bot === undefined)
    throw new BotflowError('BAD_REQUEST', 'flows publish needs a flow file and --bot BOT');
  const checked = await readFlowFile(io, file);
  if (!checked.valid || checked.flow === undefined)
    throw new BotflowError('INVALID_FLOW', `${file} is not a valid flow; nothing was published`, {
      details: checked.errors,
    });
  // What the operator wrote, as written (the server validates it again).
  const definition: unknown = JSON.parse(checked.text);
  const path = `/admin/flows/${encodeURIComponent(checked.flow.id)}`;
  await client.request('PUT', path, { bot_id: options.bot, definition });
  const { version } = (await client.request('POST', `${path}/publish`)) as {
    version: { flowId: string; version: number; publishedAt: string };
  };
  if (options.json) io.stdout.write(`${JSON.stringify({ bot_id: options.bot, ...version })}\n`);
  else
    io.stdout.write(
      `published flow ${version.flowId} version ${version.version} for bot ${options.bot}` +
        `${checked.warnings.length > 0 ? ` (${checked.warnings.length} warning(s): botflow validate ${file})` : ''}\n`,
    );
  return 0;
}
