/**
 * Fires durable timers: polls the store for pending timers due in the shards this worker owns and
 * posts each into its conversation's mailbox. Overdue timers (after a restart) fire on the first poll;
 * a timer already posted is not posted again while in flight, and commits dedupe by its key. A store
 * outage stops nothing: polling goes on, the outage is reported once, and the timers it kept from
 * firing (still pending in the store) fire on the first poll after it.
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
  pollOnce(): Promise<number>;
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

  /** Reports a failure: an outage once until the next successful poll, anything else each time. */
  function report(error: unknown): void {
    if (!isStoreOutage(error)) options.onError?.(error);
    else if (!down) {
      down = true;
      options.onOutage?.(error);
    }
  }

  async function pollOnce(): Promise<number> {
    let due;
    try {
      due = await options.store.dueTimers(options.shards(), options.now(), options.batch ?? 500);
    } catch (error) {
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
        .catch(report)
        .finally(() => inFlight.delete(key));
    }
    return posted;
  }

  const loop = async () => {
    if (stopped) return;
    polling = pollOnce().catch(() => {});
    await polling;
    if (!stopped) timer = setTimeout(loop, options.intervalMs);
  };
  if ((options.intervalMs ?? 0) > 0) timer = setTimeout(loop, options.intervalMs);

  return {
    pollOnce,
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await polling;
    },
  };
}
