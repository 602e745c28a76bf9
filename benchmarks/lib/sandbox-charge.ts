/**
 * The PIX charge the webhook benchmark's baseline bots open at the sandbox gateway for a buyer (the
 * VIP funnel's first offer), as one request: where, with which headers and body. Reads
 * BENCH_SANDBOX_URL and BENCH_SANDBOX_KEY.
 */

/** The request that opens order `orderId`'s charge (its answer's `br_code` is the BR Code). */
export function sandboxChargeRequest(orderId: string): {
  url: string;
  headers: Record<string, string>;
  body: string;
} {
  return {
    url: `${process.env['BENCH_SANDBOX_URL'] ?? ''}/v1/charges`,
    headers: {
      authorization: `Bearer ${process.env['BENCH_SANDBOX_KEY'] ?? ''}`,
      'idempotency-key': orderId,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      order_id: orderId,
      amount_cents: 2990,
      description: 'Grupo VIP - 30 dias',
      expires_in_seconds: 1800,
      notification_url: 'http://127.0.0.1:9/payments',
    }),
  };
}
