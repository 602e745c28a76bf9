/**
 * Meta Conversions API events (pure): deterministic `event_id`s for deduplication, `user_data`
 * normalized and SHA-256 hashed as Meta's SDK does (hash-for-meta.ts) (never IP, user agent, fbc or fbp), `custom_data`
 * with the value in BRL. The Purchase of a chat funnel uses `action_source: "chat"` (Meta: conversion
 * "via a messaging app") unless the pixel asks for `website`; the click's own events use `website`.
 */
import type { ClickPayload } from './click.ts';
import { hashForMeta, type MetaHashedField } from './hash-for-meta.ts';

export { hashForMeta } from './hash-for-meta.ts';
export type ConversionName = 'PageView' | 'Lead' | 'InitiateCheckout' | 'Purchase';

/** The deterministic event id of an event about `id` (a payment id, a click token). */
export function eventIdFor(name: ConversionName, id: string): string {
  return `${name.toLowerCase()}:${id}`;
}

/**
 * Where Meta is told a chat-funnel event (Lead, InitiateCheckout, Purchase) happened: `chat`, or
 * `website` when the pixel asks for it and the click carries what Meta requires of a website event
 * (the browser's user agent, and the page: the tracking link the ad opened). Without a click it stays
 * `chat`, which Meta accepts with only the hashed Telegram id.
 */
export function pickActionSource(
  preference: 'chat' | 'website' | undefined,
  click: Partial<ClickPayload> | null,
  linkUrl: (slug: string) => string,
): { actionSource: 'chat' | 'website'; eventSourceUrl?: string } {
  if (preference !== 'website' || !click?.user_agent || !click.slug) return { actionSource: 'chat' };
  return { actionSource: 'website', eventSourceUrl: linkUrl(click.slug) };
}

/** Builds one event of the `data` array. */
export function buildConversionEvent(input: {
  name: ConversionName;
  eventId: string;
  eventTime: number;
  actionSource?: 'website' | 'chat' | 'system_generated';
  eventSourceUrl?: string;
  telegramUserId?: string;
  click: Partial<ClickPayload> | null;
  user?: Partial<
    Record<'email' | 'phone' | 'firstName' | 'lastName' | 'city' | 'state' | 'zip' | 'country', string>
  >;
  valueCents?: number;
  orderId?: string;
}): Record<string, unknown> {
  const u = input.user ?? {};
  const hashed: Array<[string, MetaHashedField, string | undefined]> = [
    ['em', 'em', u.email],
    ['ph', 'ph', u.phone],
    ['fn', 'fn', u.firstName],
    ['ln', 'ln', u.lastName],
    ['ct', 'ct', u.city],
    ['st', 'st', u.state],
    ['zp', 'zp', u.zip],
    ['country', 'country', u.country],
    ['external_id', 'external_id', input.telegramUserId],
  ];
  const userData: Record<string, unknown> = {};
  for (const [field, kind, value] of hashed) {
    const hash = value ? hashForMeta(kind, value) : null;
    if (hash !== null) userData[field] = [hash];
  }
  const click = input.click ?? {};
  if (click.ip) userData['client_ip_address'] = click.ip;
  if (click.user_agent) userData['client_user_agent'] = click.user_agent;
  if (click.fbc) userData['fbc'] = click.fbc;
  if (click.fbp) userData['fbp'] = click.fbp;
  const customData: Record<string, unknown> = {};
  if (input.valueCents !== undefined) {
    customData['value'] = input.valueCents / 100;
    customData['currency'] = 'BRL';
  }
  if (input.orderId !== undefined) customData['order_id'] = input.orderId;
  return {
    event_name: input.name,
    event_time: input.eventTime,
    event_id: input.eventId,
    action_source:
      input.actionSource ??
      (input.name === 'Purchase' || input.name === 'InitiateCheckout' ? 'chat' : 'website'),
    ...(input.eventSourceUrl === undefined ? {} : { event_source_url: input.eventSourceUrl }),
    user_data: userData,
    ...(Object.keys(customData).length > 0 ? { custom_data: customData } : {}),
  };
}
