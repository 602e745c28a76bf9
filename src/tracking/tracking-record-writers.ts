/**
 * What tracking writes inside a conversation's commit: the /start binding of an ad click to the buyer,
 * and conversion events for the Meta outbox, each only if the transition it came with commits.
 */
import type { CommitRecord, RecordWriter } from '../runtime/ports.ts';

/** The click a /start carried (token null: a plain /start, which only moves `last_seen`). */
export interface BindTrackingRecord extends CommitRecord {
  kind: 'bindTracking';
  token: string | null;
  payload: Record<string, unknown> | null;
  fbclid: string | null;
}

/** A conversion event for the outbox, sent with the credentials of the bot whose row commits it. */
export interface ConversionRecord extends CommitRecord {
  kind: 'conversion';
  eventId: string;
  pixelId: string;
  payload: Record<string, unknown>;
}

/** One binding per conversation and commit (the last wins); an existing click stays unless replaced. */
const bindTracking: RecordWriter = {
  kind: 'bindTracking',
  columns: [
    ['token', 'text'],
    ['payload', 'jsonb'],
    ['fbclid', 'text'],
  ],
  tuples: (_row, records) => {
    const last = records.at(-1) as BindTrackingRecord | undefined;
    if (last === undefined) return [];
    return [[last.token, last.payload === null ? null : JSON.stringify(last.payload), last.fbclid]];
  },
  statement: (source) =>
    `insert into bot_users (bot_id, user_id, tracking_token, tracking_payload, fbclid)
     select bot_id, user_id, token, payload, fbclid from ${source} as x
     on conflict (bot_id, user_id) do update set last_seen = now(),
       tracking_token = coalesce(excluded.tracking_token, bot_users.tracking_token),
       tracking_payload = coalesce(excluded.tracking_payload, bot_users.tracking_payload),
       fbclid = case when excluded.tracking_token is null then bot_users.fbclid else excluded.fbclid end`,
};

/** Conversion rows, deduplicated by event id, recording the bot that produced them. */
const conversion: RecordWriter = {
  kind: 'conversion',
  columns: [
    ['event_id', 'text'],
    ['pixel_id', 'text'],
    ['payload', 'jsonb'],
  ],
  tuples: (_row, records) =>
    (records as readonly ConversionRecord[]).map((r) => [r.eventId, r.pixelId, JSON.stringify(r.payload)]),
  statement: (source) =>
    `insert into conversion_events (event_id, pixel_id, payload, bot_id)
     select event_id, pixel_id, payload, bot_id from ${source} as x on conflict (event_id) do nothing`,
};

/** The record writers tracking registers with the conversation store. */
export const TRACKING_RECORD_WRITERS: readonly RecordWriter[] = [bindTracking, conversion];
