/**
 * Which ad click a buyer came from (pure), from the evidence gathered before a charge: the user's
 * durable binding, the chat index, the fbclid index, then the user's own stored fields. The source
 * that won is returned so it can be counted and stored with the charge.
 */
import type { ClickPayload } from './click.ts';

export type TrackingSource = 'user_binding' | 'chat_index' | 'fbclid_index' | 'user_fields' | 'none';

/** Everything known about a buyer's click, each piece possibly missing. */
export interface TrackingEvidence {
  userBinding?: { token: string; payload: ClickPayload | null } | null;
  chatIndex?: { token: string; payload: ClickPayload | null } | null;
  fbclidIndex?: { token: string; payload: ClickPayload | null } | null;
  userFields?: Partial<ClickPayload> | null;
}

/** The resolved click. */
export interface ResolvedTracking {
  token: string | null;
  payload: Partial<ClickPayload> | null;
  source: TrackingSource;
}

/** Resolves in order of trust; a token whose payload expired does not win over later evidence. */
export function resolveTracking(evidence: TrackingEvidence): ResolvedTracking {
  const candidates: Array<[TrackingSource, TrackingEvidence['userBinding']]> = [
    ['user_binding', evidence.userBinding],
    ['chat_index', evidence.chatIndex],
    ['fbclid_index', evidence.fbclidIndex],
  ];
  for (const [source, found] of candidates) {
    if (found?.payload) return { token: found.token, payload: found.payload, source };
  }
  const fields = evidence.userFields;
  if (fields && Object.values(fields).some((v) => v !== undefined && v !== null && v !== '')) {
    return { token: null, payload: fields, source: 'user_fields' };
  }
  return { token: null, payload: null, source: 'none' };
}

/**
 * The click a Purchase should carry: the one resolved when the charge was created, unless the user
 * has since been bound to a newer click made before the order was placed (a `/start <token>` that
 * raced the buy press and committed after the charge resolved). Later clicks never take over.
 */
export function preferLaterClick(
  atCharge: ResolvedTracking | null,
  current: ResolvedTracking,
  orderPlacedAt: number,
): ResolvedTracking | null {
  const clickTime = (r: ResolvedTracking | null) => {
    const at = r?.token == null ? undefined : r.payload?.created_at;
    return typeof at === 'number' ? at : null;
  };
  const now = clickTime(current);
  if (now === null || now > orderPlacedAt || current.token === atCharge?.token) return atCharge;
  const before = clickTime(atCharge);
  return before === null || now > before ? current : atCharge;
}
