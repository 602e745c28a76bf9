/** The port through which the payment service reads and completes payments; owned by payments. */
import type { PaymentRecord } from './payment-record.ts';

/** The payments as the payment service reads and completes them (db/payment-repository.ts implements it). */
export interface PaymentLedger {
  get(orderId: string): Promise<PaymentRecord | null>;
  findByCharge(gateway: string, gatewayChargeId: string): Promise<PaymentRecord | null>;
  /** The newest payment of a conversation with the flow's order name (names repeat across flow versions). */
  findByFlowOrder(botId: string, userId: string, flowOrder: string): Promise<PaymentRecord | null>;
  /** Replaces the tracking with a newer click found at payment (see `preferLaterClick`). */
  replaceTracking(orderId: string, tracking: Record<string, unknown>): Promise<void>;
  /** Marks a payment refunded at the gateway; false when it already was (or cannot be). */
  markRefunded(orderId: string): Promise<boolean>;
  /** Marks a payment that must grant nothing (amount or currency mismatch). */
  flag(orderId: string, reason: string): Promise<void>;
  /**
   * Pending charges to ask the gateway about: past expiry, or placed before `staleBefore`; and not
   * asked since `staleBefore` unless they expired after the last ask. Least recently asked first.
   * With `shards`, only charges of conversations in those shards (a cluster worker's own).
   */
  toReconcile(now: number, staleBefore: number, limit: number, shards?: number[]): Promise<PaymentRecord[]>;
  /** Records that reconciliation asked about these charges at `at`. */
  markChecked(orderIds: string[], at: number): Promise<void>;
}
