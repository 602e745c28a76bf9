/**
 * The conversions outbox as the sender sees it: tracking owns this port and db/conversion-outbox.ts
 * implements it over Postgres, so the sender depends on no storage.
 */

/** A claimed row. */
export interface ConversionRow {
  id: string;
  eventId: string;
  pixelId: string;
  /** The bot that produced the event; null on rows written before conversions recorded their bot. */
  botId: string | null;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Counts by status (the demo's report, tests). */
export type ConversionCounts = Record<'pending' | 'sent' | 'dead', number>;

/** The outbox. */
export interface ConversionOutbox {
  /** Queues an event of bot `botId` (sent later with that bot's Meta credentials). */
  add(row: {
    eventId: string;
    pixelId: string;
    botId: string;
    payload: Record<string, unknown>;
  }): Promise<void>;
  /** Claims up to `limit` due rows for `leaseMs` (they are invisible to other claims meanwhile). */
  claim(now: number, limit: number, leaseMs: number): Promise<ConversionRow[]>;
  markSent(ids: string[], at: number): Promise<void>;
  reschedule(id: string, attempts: number, nextAt: number, error: string): Promise<void>;
  markDead(id: string, attempts: number, error: string): Promise<void>;
  counts(): Promise<ConversionCounts>;
}
