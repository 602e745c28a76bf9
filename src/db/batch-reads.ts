/**
 * Coalesces point reads: reads asked for in the same tick, or while a batch is running, go together in
 * the next statement, so a busy process pays one round trip for many keys instead of one each, with
 * no added delay when idle (the first read waits one `setImmediate`).
 */

/** Reads keys in batches with `readMany`, which returns one value (or null) per key, in order. */
export function batchReads<K, V>(
  readMany: (keys: K[]) => Promise<Array<V | null>>,
  maxBatch = 500,
): (key: K) => Promise<V | null> {
  let queue: Array<{ key: K; resolve(value: V | null): void; reject(error: unknown): void }> = [];
  let running = false;
  const run = async () => {
    running = true;
    await new Promise((resolve) => setImmediate(resolve));
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        const values = await readMany(batch.map((b) => b.key));
        for (const [i, b] of batch.entries()) b.resolve(values[i] ?? null);
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    running = false;
  };
  return (key) =>
    new Promise<V | null>((resolve, reject) => {
      queue.push({ key, resolve, reject });
      if (!running) void run();
    });
}
