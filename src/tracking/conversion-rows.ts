/**
 * The one home of botflow's four Meta events (pure): PageView (the ad click), Lead (the /start that
 * carried it), InitiateCheckout (the charge created) and Purchase (the charge paid), each built as the
 * one conversions-outbox row it becomes. Each event's id is deterministic in the fact it reports, so a
 * retried fact queues its event once. Time, pixel settings, click and buyer facts are passed in.
 */
import type { BuyerFacts } from '../flow/machine-setup.ts';
import type { ClickPayload } from './click.ts';
import { buildConversionEvent, eventIdFor, pickActionSource } from './conversion-event.ts';
import { pickUserData } from './pick-user-data.ts';
import type { PixelSettings } from './pixel-settings.ts';
import type { ConversionRecord } from './tracking-record-writers.ts';

/** What every chat-funnel event (Lead, InitiateCheckout, Purchase) is built from. */
export interface ChatEventInput {
  /** The bot's pixel (its id, action source preference and user_data switches). */
  pixel: PixelSettings;
  /** The buyer's Telegram id (hashed as `external_id` when the pixel sends it). */
  userId: string;
  /** The ad click the buyer came from, if any. */
  click: Partial<ClickPayload> | null;
  /** What the buyer told the bot (e-mail, phone, names), as far as known. */
  buyer: BuyerFacts | null;
  /** When the fact happened (ms). */
  at: number;
  /** The public URL of a tracking link (a `website` event's page). */
  linkUrl(slug: string): string;
}

/** An order's part of InitiateCheckout and Purchase. */
export interface OrderInput {
  orderId: string;
  amountCents: number;
}

/** One row of the outbox for event `name` about `id`. */
function rowOf(
  pixel: PixelSettings,
  name: Parameters<typeof eventIdFor>[0],
  id: string,
  event: Omit<Parameters<typeof buildConversionEvent>[0], 'name' | 'eventId'>,
): ConversionRecord {
  const eventId = eventIdFor(name, id);
  return {
    kind: 'conversion',
    eventId,
    pixelId: pixel.pixel_id,
    payload: buildConversionEvent({ name, eventId, ...event }),
  };
}

/** The user_data, action source and click of a chat-funnel event, as the pixel asks. */
function chatEventFields(input: ChatEventInput) {
  return {
    eventTime: Math.floor(input.at / 1000),
    ...pickActionSource(input.pixel.action_source, input.click, input.linkUrl),
    ...pickUserData(input.pixel.user_data, input.buyer, input.userId),
    click: input.click,
  };
}

/**
 * The PageView of an ad click (id: the click's token), a `website` event on the tracking link's page
 * (Meta requires the page's URL: the link itself, without the ad's query), at the click's time.
 */
export function buildPageViewRow(input: {
  pixel: PixelSettings;
  token: string;
  click: ClickPayload;
  linkUrl(slug: string): string;
}): ConversionRecord {
  return rowOf(input.pixel, 'PageView', input.token, {
    eventTime: Math.floor(input.click.created_at / 1000),
    eventSourceUrl: input.linkUrl(input.click.slug),
    click: input.click,
  });
}

/** The Lead of a /start that carried ad click `token` (id: bot, buyer and token: one per binding). */
export function buildLeadRow(input: ChatEventInput & { botId: string; token: string }): ConversionRecord {
  return rowOf(input.pixel, 'Lead', `${input.botId}:${input.userId}:${input.token}`, chatEventFields(input));
}

/** The InitiateCheckout of a created charge (id: the order), with the order's value. */
export function buildInitiateCheckoutRow(input: ChatEventInput & OrderInput): ConversionRecord {
  return rowOf(input.pixel, 'InitiateCheckout', input.orderId, {
    ...chatEventFields(input),
    valueCents: input.amountCents,
    orderId: input.orderId,
  });
}

/** The Purchase of a paid charge (id: the order), at the payment's time, with the order's value. */
export function buildPurchaseRow(input: ChatEventInput & OrderInput): ConversionRecord {
  return rowOf(input.pixel, 'Purchase', input.orderId, {
    ...chatEventFields(input),
    valueCents: input.amountCents,
    orderId: input.orderId,
  });
}
