/**
 * A tracking link: `/r/<slug>` sends an ad click to its bot, tagged with the campaign; with `presell`
 * it first shows a page that fires the Meta Pixel's PageView.
 */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `tracking_links`. */
export const TrackingLink = defineEntity({
  name: 'TrackingLink',
  tableName: 'tracking_links',
  properties: {
    slug: p.text().primary(),
    botId: p.text().index(),
    campaign: p.text().nullable(),
    presell: p.boolean().default(false),
    createdAt: p.datetime().defaultRaw('now()'),
  },
});
