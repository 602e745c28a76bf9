/**
 * Fires durable timers: polls the store for pending timers due in the shards this worker owns and
 * posts each into its conversation's mailbox. Overdue timers (after a restart) fire on the first poll;
 * a timer already posted is not posted again while in flight, and commits dedupe by its key.
 */
import type { ConversationHost } from './conversation-host.ts';
import type { ConversationStore } from './ports.ts';

export interface TimerPollerOptions {
  store: ConversationStore;
  host: Pick<ConversationHost, 'dispatch'>;
  shards(): readonly number[];
  now(): number;
  intervalMs?: number;
  batch?: number;
  onError?(error: unknown): void;
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
  let polling: Promise<unknown> = Promise.resolve();

  async function pollOnce(): Promise<number> {
    const due = await options.store.dueTimers(options.shards(), options.now(), options.batch ?? 500);
    options.onDue?.(due.length);
    let posted = 0;
    for (const t of due) {
      const key = `timer:${t.botId}:${t.userId}:${t.timerId}:${t.dueAt}`;
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
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => inFlight.delete(key));
    }
    return posted;
  }

  const loop = async () => {
    if (stopped) return;
    polling = pollOnce().catch((error: unknown) => options.onError?.(error));
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
