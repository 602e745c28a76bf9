/**
 * The sandbox gateway's webhook sender: signs each event like a real gateway (HMAC-SHA256 over
 * `${t}.${body}`), retries non-2xx answers with exponential backoff, and on demand duplicates, delays
 * and reorders deliveries so tests exercise at-least-once, out-of-order notification handling.
 */
import { createHmac } from 'node:crypto';
import { computeBackoff } from '../runtime/compute-backoff.ts';

/** One notification to deliver. */
export interface WebhookEvent {
  url: string;
  chargeId: string;
  eventId: string;
  /** The exact JSON text that is signed and sent. */
  body: string;
}

/** How the next webhooks are delivered (persists until changed). */
export interface DeliveryOptions {
  /** Send each event this many times (default 1). */
  duplicates?: number;
  /** Hold events this long before sending them (default 0). */
  delayMs?: number;
  /** Send each held batch last-first, so a later status change can arrive before an earlier one. */
  reorder?: boolean;
  /** Send a held batch's first attempts all at once (concurrent duplicates) instead of one at a time. */
  concurrent?: boolean;
}

/** One delivery attempt as the receiver answered it. */
export interface DeliveryRecord {
  charge_id: string;
  event_id: string;
  status: number | 'error';
  attempt: number;
}

/** A running sender. */
export interface WebhookSender {
  send(event: WebhookEvent): void;
  setDelivery(options: DeliveryOptions): void;
  deliveries: DeliveryRecord[];
  /** Resolves when every queued delivery and retry has finished. */
  settled(): Promise<void>;
  /** Drops pending retries and aborts requests in flight. */
  close(): void;
}

/** Creates a sender signing with `secret`; attempt n waits `retryBaseMs * 2^(n-2)` after attempt n-1. */
export function createWebhookSender(options: {
  secret: string;
  now: () => number;
  retryBaseMs: number;
  maxAttempts: number;
}): WebhookSender {
  let delivery = { duplicates: 1, delayMs: 0, reorder: false, concurrent: false };
  const deliveries: DeliveryRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const stop = new AbortController();
  let held: WebhookEvent[] = [];
  let sending: Promise<void> = Promise.resolve();

  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done);
    });
  const sign = (body: string) => {
    const t = Math.floor(options.now() / 1000);
    const v1 = createHmac('sha256', options.secret).update(`${t}.${body}`).digest('hex');
    return `t=${t},v1=${v1}`;
  };

  /** One POST; records and returns whether the receiver accepted it (2xx). */
  async function attempt(event: WebhookEvent, n: number): Promise<boolean> {
    let status: number | 'error';
    try {
      const response = await fetch(event.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sandbox-signature': sign(event.body) },
        body: event.body,
        redirect: 'manual',
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(5_000)]),
      });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
    } catch {
      status = 'error';
    }
    if (stop.signal.aborted) return true;
    deliveries.push({ charge_id: event.chargeId, event_id: event.eventId, status, attempt: n });
    return typeof status === 'number' && status >= 200 && status < 300;
  }

  async function retry(event: WebhookEvent): Promise<void> {
    for (let n = 2; n <= options.maxAttempts && !stop.signal.aborted; n++) {
      await sleep(computeBackoff(n - 1, options.retryBaseMs));
      if (stop.signal.aborted || (await attempt(event, n))) return;
    }
  }

  /** First attempts go out one at a time in batch order (or all at once); retries run beside the queue. */
  async function flush(): Promise<void> {
    const batch = delivery.reorder ? held.reverse() : held;
    held = [];
    const first = async (event: WebhookEvent) => {
      if (!(await attempt(event, 1)) && options.maxAttempts > 1) track(retry(event));
    };
    if (delivery.concurrent) {
      if (!stop.signal.aborted) await Promise.all(batch.map(first));
      return;
    }
    for (const event of batch) {
      if (stop.signal.aborted) return;
      await first(event);
    }
  }

  return {
    deliveries,
    send(event) {
      const first = held.length === 0;
      for (let i = 0; i < delivery.duplicates; i++) held.push(event);
      if (!first) return;
      const previous = sending;
      sending = (async () => {
        await sleep(delivery.delayMs);
        await previous;
        await flush();
      })();
      track(sending);
    },
    setDelivery(o) {
      delivery = {
        duplicates: Math.max(1, Math.floor(o.duplicates ?? delivery.duplicates)),
        delayMs: Math.max(0, o.delayMs ?? delivery.delayMs),
        reorder: o.reorder ?? delivery.reorder,
        concurrent: o.concurrent ?? delivery.concurrent,
      };
    },
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    close() {
      stop.abort();
    },
  };
}
