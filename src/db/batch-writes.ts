/**
 * Coalesces small writes: the first write runs at once, and writes arriving while it runs go together
 * in the next statement, so a busy process pays one commit (one WAL flush) for many rows instead of one
 * each, with no added delay when idle. `lingerMs` (for writes nobody waits on) holds the first write
 * that long to gather more. Each caller resolves once its own item is committed.
 */

/** Queues items and writes them in batches with `flush` (which must write all of them or throw). */
export function batchWrites<T>(
  flush: (items: T[]) => Promise<void>,
  maxBatch = 500,
  lingerMs = 0,
): (item: T) => Promise<void> {
  let queue: Array<{ item: T; resolve(): void; reject(error: unknown): void }> = [];
  let running = false;
  const run = async () => {
    running = true;
    if (lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, lingerMs));
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await flush(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    running = false;
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!running) void run();
    });
}
