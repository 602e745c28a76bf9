/**
 * `botflow conversions stats [--bot ID] [--json]`: the operator's view of Meta match quality, per event
 * name: sent / pending / dead, and the share of sent events carrying each match key, through a running
 * botflow's admin API.
 */
import type { ConversionStat } from '../../db/conversion-stats.ts';
import type { AdminClient } from '../admin-client.ts';
import type { CliIo } from '../io.ts';
import { writeListing } from '../write-listing.ts';

const KEYS = ['fbc', 'fbp', 'ip_ua', 'em', 'ph', 'external_id'] as const;

/** A share as a whole percentage, `-` when nothing was sent. */
const percent = (share: number | undefined) => (share === undefined ? '-' : `${Math.round(share * 100)}%`);

/** Prints the stats of one bot (`--bot`) or all. */
export async function runConversionsStats(
  io: CliIo,
  client: AdminClient,
  options: { bot?: string; json: boolean },
): Promise<number> {
  const query = options.bot === undefined ? '' : `?${new URLSearchParams({ bot_id: options.bot })}`;
  const { events } = (await client.request('GET', `/admin/conversions/stats${query}`)) as {
    events: ConversionStat[];
  };
  return writeListing(io, events, {
    json: options.json,
    empty: 'no conversion events',
    header: ['EVENT', 'SENT', 'PENDING', 'DEAD', ...KEYS.map((k) => k.toUpperCase().replace('_', '+'))],
    row: (e) => [
      e.event_name,
      String(e.sent),
      String(e.pending),
      String(e.dead),
      ...KEYS.map((k) => percent(e.share_sent_with?.[k])),
    ],
  });
}
