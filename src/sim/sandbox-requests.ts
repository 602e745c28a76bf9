/**
 * Request checks and error replies of the sandbox gateway's HTTP API (`sandbox-gateway.ts`): kept
 * apart so the server stays readable, and shaped like a real gateway's (`{ error: { code, message } }`).
 */

/** The largest request body the sandbox reads. */
export const MAX_BODY_BYTES = 64 * 1024;
const MAX_AMOUNT_CENTS = 10_000_000_000;
const MAX_EXPIRY_SECONDS = 365 * 86400;

/** An HTTP answer: status and JSON body. */
export type Reply = { status: number; body: unknown };

/** An error answer. */
export const apiError = (status: number, code: string, message: string): Reply => ({
  status,
  body: { error: { code, message } },
});

/** Checks a create request; returns the problem or null. */
export function invalidCreate(b: Record<string, unknown>): string | null {
  if (typeof b['order_id'] !== 'string' || b['order_id'] === '' || b['order_id'].length > 200)
    return 'order_id must be a non-empty string of at most 200 characters';
  const amount = b['amount_cents'];
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || amount > MAX_AMOUNT_CENTS)
    return `amount_cents must be an integer between 1 and ${MAX_AMOUNT_CENTS}`;
  if (typeof b['description'] !== 'string' || b['description'].length > 500)
    return 'description must be a string of at most 500 characters';
  const expiry = b['expires_in_seconds'];
  if (typeof expiry !== 'number' || !Number.isInteger(expiry) || expiry < 1 || expiry > MAX_EXPIRY_SECONDS)
    return `expires_in_seconds must be an integer between 1 and ${MAX_EXPIRY_SECONDS}`;
  const url = b['notification_url'];
  if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
    return 'notification_url must be an http(s) URL';
  return null;
}

/** Reads a refund body (empty, or `{ amount_cents? }`): the amount asked for, undefined for "all", or the problem. */
export function readRefundBody(raw: string): { amount?: number } | { problem: string } {
  if (raw.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { problem: 'the body must be JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { problem: 'the body must be a JSON object' };
  const amount = (body as Record<string, unknown>)['amount_cents'];
  if (amount === undefined || amount === null) return {};
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1)
    return { problem: 'amount_cents must be a positive integer' };
  return { amount };
}
