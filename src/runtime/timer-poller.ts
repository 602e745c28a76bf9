/**
 * Fires durable timers: polls the store for pending timers due in the shards this worker owns and
 * posts each into its conversation's mailbox. Overdue timers (after a restart) fire on the first poll;
 * a timer already posted is not posted again while in flight, and commits dedupe by its key. A store
 * outage stops nothing: polling goes on, the outage is reported once, and the timers it kept from
 * firing (still pending in the store) fire on the first poll after it. Between timers it reads
 * nothing: each read also says when the next pending timer falls due, and the host tells it of every
 * timer it commits (`noteDue`); it reads again at that time, when its shards change, or after a read
 * or a fired timer failed.
 */
import type { ConversationHost } from './conversation-host.ts';
import { isStoreOutage } from './is-store-outage.ts';
import type { ConversationStore } from './ports.ts';
import { inputKeys } from './input-keys.ts';

export interface TimerPollerOptions {
  store: ConversationStore;
  host: Pick<ConversationHost, 'dispatch'>;
  shards(): readonly number[];
  now(): number;
  intervalMs?: number;
  batch?: number;
  /** A failure that is not a store outage (each one). */
  onError?(error: unknown): void;
  /** The store became unreachable (once per outage). */
  onOutage?(error: unknown): void;
  /** A poll succeeded after `onOutage`. */
  onRecovered?(): void;
  onDue?(count: number): void;
}

/** A running poller. `pollOnce` is exposed so tests drive time explicitly. */
export interface TimerPoller {
  /** Reads the due timers now (whatever the next due time) and posts them; resolves with how many. */
  pollOnce(): Promise<number>;
  /** A timer was committed in one of this worker's shards, due at `dueAt` (ms since epoch). */
  noteDue(dueAt: number): void;
  /** Stops polling; resolves once a poll in progress has read its due timers and posted them. */
  stop(): Promise<void>;
}

/** Starts polling (unless `intervalMs` is 0: then only `pollOnce` fires timers). */
export function startTimerPoller(options: TimerPollerOptions): TimerPoller {
  const inFlight = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let down = false;
  let polling: Promise<unknown> = Promise.resolve();
  /** When the loop reads next: -Infinity means at once (nothing known), Infinity never (no timer). */
  let nextDueAt = -Infinity;
  /** The earliest timer noted while a read runs (the read may have missed it). */
  let notedDuring = Infinity;
  let shardsRead = '';

  /** Reports a failure: an outage once until the next successful poll, anything else each time. */
  function report(error: unknown): void {
    if (!isStoreOutage(error)) options.onError?.(error);
    else if (!down) {
      down = true;
      options.onOutage?.(error);
    }
  }

  async function pollOnce(): Promise<number> {
    const shards = options.shards();
    const limit = options.batch ?? 500;
    let due;
    notedDuring = Infinity;
    try {
      const poll = await options.store.pollTimers(shards, options.now(), limit);
      due = poll.due;
      const next = due.length >= limit ? -Infinity : (poll.nextDueAt ?? Infinity);
      nextDueAt = Math.min(next, notedDuring);
      shardsRead = shards.join(',');
    } catch (error) {
      nextDueAt = -Infinity;
      report(error);
      throw error;
    }
    if (down) {
      down = false;
      options.onRecovered?.();
    }
    options.onDue?.(due.length);
    let posted = 0;
    for (const t of due) {
      const key = inputKeys.timer(t.botId, t.userId, t.timerId, t.dueAt);
      if (inFlight.has(key)) continue;
      inFlight.add(key);
      posted += 1;
      options.host
        .dispatch({
          botId: t.botId,
          userId: t.userId,
          event: t.event as never,
          inputKey: key,
          timer: { timerId: t.timerId, dueAt: t.dueAt },
        })
        .catch((error: unknown) => {
          // Still pending in the store: read it again on the next tick.
          nextDueAt = -Infinity;
          report(error);
        })
        .finally(() => inFlight.delete(key));
    }
    return posted;
  }

  /** Whether the loop must read now: a timer may be due, or the shards changed since the last read. */
  const mustRead = () => options.now() >= nextDueAt || options.shards().join(',') !== shardsRead;

  const loop = async () => {
    if (stopped) return;
    polling = mustRead() ? pollOnce().catch(() => {}) : Promise.resolve();
    await polling;
    if (!stopped) timer = setTimeout(loop, options.intervalMs);
  };
  if ((options.intervalMs ?? 0) > 0) timer = setTimeout(loop, options.intervalMs);

  return {
    pollOnce,
    noteDue(dueAt) {
      nextDueAt = Math.min(nextDueAt, dueAt);
      notedDuring = Math.min(notedDuring, dueAt);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await polling;
    },
  };
}
