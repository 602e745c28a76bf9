/** A tracking link: `/r/<slug>` sends an ad click to its bot, tagged with the campaign. */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `tracking_links`. */
export const TrackingLink = defineEntity({
  name: 'TrackingLink',
  tableName: 'tracking_links',
  properties: {
    slug: p.text().primary(),
    botId: p.text().index(),
    campaign: p.text().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
});
