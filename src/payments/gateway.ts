/**
 * The PIX gateway port: what botflow needs from any payment provider, in integer centavos. Adapters
 * (sandbox, Mercado Pago, PushinPay) convert units and shapes at the edge; a webhook is only a
 * hint until `getCharge`, the trusted read, confirms it (unless its signature authenticates it).
 */

/** An integer number of centavos (never a float of reais). */
export type Cents = number;

/** Where a charge stands at the gateway. */
export type PixStatus = 'pending' | 'paid' | 'expired' | 'canceled' | 'refunded' | 'failed';

export interface CreateChargeInput {
  /** botflow's order id (unique per charge intent); the gateway's external reference. */
  orderId: string;
  /** Stable per order: a retried or doubled create returns the same charge. */
  idempotencyKey: string;
  amount: Cents;
  description: string;
  expiresInSeconds: number;
  /** Where the gateway posts notifications for this charge. */
  notificationUrl: string;
}

/** A charge as the gateway reports it. */
export interface PixCharge {
  gateway: string;
  gatewayChargeId: string;
  /** The order id the charge was created for, when the gateway echoes it (external reference). */
  orderId: string | null;
  status: PixStatus;
  amount: Cents;
  /** ISO 4217; PIX is BRL. */
  currency: 'BRL';
  /** The PIX copy-and-paste code (EMV BR Code). */
  brCode: string;
  qrImageBase64?: string;
  /** Where a QR image can be fetched, when the gateway serves one. */
  qrImageUrl?: string;
  expiresAt?: number;
  paidAt?: number;
}

/** The incoming webhook request, as received (the raw body is needed for signatures). */
export interface WebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

/** A verified, parsed notification: not yet trusted for fulfilment unless `authenticated` is `signature`. */
export interface WebhookNotice {
  gatewayChargeId: string;
  /** Same notification delivered twice → same key. */
  dedupKey: string;
  claimedStatus?: PixStatus;
  authenticated: 'signature' | 'shared_token';
}

/** One payment provider. Errors are `BotflowError`s: `UNAUTHORIZED` for a rejected webhook,
 * `BAD_REQUEST` for a malformed one, `UPSTREAM_FAILED` (retryable) for the gateway failing. */
export interface PixGateway {
  readonly id: string;
  createCharge(input: CreateChargeInput): Promise<PixCharge>;
  /** The authoritative read of a charge's state. */
  getCharge(gatewayChargeId: string): Promise<PixCharge>;
  /** Authenticates and parses a webhook; throws `UNAUTHORIZED` when forged, `BAD_REQUEST` when malformed. */
  verifyAndParseWebhook(request: WebhookRequest): Promise<WebhookNotice>;
  /** Gives back all of a paid charge, or `amount` centavos of it, and returns the charge as it now
   * stands. Absent when the gateway documents no refund API. */
  refund?(gatewayChargeId: string, amount?: Cents): Promise<PixCharge>;
}
