/**
 * Sends events to the Meta Conversions API with plain `fetch`, and classifies failures so the outbox
 * knows what to retry: network errors, 5xx, 429 and Meta's transient codes are retryable; invalid
 * parameters and bad tokens are not. The access token goes in the body and never into a result.
 */
import { computeBackoff } from '../runtime/compute-backoff.ts';

/** Meta error codes worth retrying (Graph API error handling guide). */
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 341, 613]);

/** The outcome of one request. */
export type SendResult =
  | { ok: true; eventsReceived: number; fbtraceId?: string }
  | { ok: false; retryable: boolean; status?: number; code?: number; subcode?: number; message: string };

/** Posts `events` for `pixelId`. Never throws. */
export async function sendConversionEvents(options: {
  graphUrl?: string;
  apiVersion?: string;
  pixelId: string;
  accessToken: string;
  testEventCode?: string;
  events: Array<Record<string, unknown>>;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): Promise<SendResult> {
  const base = options.graphUrl ?? 'https://graph.facebook.com';
  const url = `${base}/${options.apiVersion ?? 'v25.0'}/${encodeURIComponent(options.pixelId)}/events`;
  const body = {
    data: options.events,
    access_token: options.accessToken,
    ...(options.testEventCode === undefined ? {} : { test_event_code: options.testEventCode }),
  };
  const scrub = (text: string) => text.split(options.accessToken).join('[REDACTED]');
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    return { ok: false, retryable: true, message: scrub(`network error: ${(error as Error).message}`) };
  }
  let parsed: {
    events_received?: number;
    fbtrace_id?: string;
    error?: { message?: string; code?: number; error_subcode?: number };
  };
  try {
    parsed = (await response.json()) as typeof parsed;
  } catch {
    return {
      ok: false,
      retryable: response.status >= 500,
      status: response.status,
      message: `HTTP ${response.status}, not JSON`,
    };
  }
  if (response.ok && typeof parsed.events_received === 'number') {
    return {
      ok: true,
      eventsReceived: parsed.events_received,
      ...(parsed.fbtrace_id ? { fbtraceId: parsed.fbtrace_id } : {}),
    };
  }
  const code = parsed.error?.code;
  const retryable =
    response.status >= 500 || response.status === 429 || (code !== undefined && TRANSIENT_CODES.has(code));
  return {
    ok: false,
    retryable,
    status: response.status,
    ...(code === undefined ? {} : { code }),
    ...(parsed.error?.error_subcode === undefined ? {} : { subcode: parsed.error.error_subcode }),
    message: scrub(parsed.error?.message ?? `HTTP ${response.status}`),
  };
}

/** Exponential backoff with full jitter for attempt n (1-based). */
export function nextRetryDelay(
  attempt: number,
  random: () => number,
  baseMs = 1000,
  maxMs = 3_600_000,
): number {
  return Math.round(random() * computeBackoff(attempt, baseMs, maxMs));
}

/** Meta refuses events older than 7 days: such an event is dead-lettered, not retried. */
export function isTooOld(eventTimeSeconds: number, nowMs: number): boolean {
  return nowMs / 1000 - eventTimeSeconds > 7 * 86400 - 3600;
}
