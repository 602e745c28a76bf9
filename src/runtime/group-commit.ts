/**
 * Group commit: rows from many conversations that arrive while a commit is running are written
 * together in the next one, so the number of transactions stays low under load without adding a
 * fixed delay when the system is idle. Under load (rows queued while a commit ran), an optional
 * linger holds the next batch a moment for more rows: fewer, bigger transactions.
 */

/** Writes a batch and returns one outcome per row, in order. */
export type CommitBatch<Row, Outcome> = (rows: Row[]) => Promise<Outcome[]>;

/** Queues rows for batched commits. */
export interface GroupCommitter<Row, Outcome> {
  /** Resolves with the row's outcome once its batch has committed (rejects if the batch failed). */
  commit(row: Row): Promise<Outcome>;
  /** Resolves when nothing is queued or in flight. */
  flush(): Promise<void>;
  readonly pending: number;
}

interface Pending<Row, Outcome> {
  row: Row;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/**
 * How long a batch that follows another may wait for more rows: at most `ms`, or until `rows` are
 * queued. A row that finds no commit running never waits for it.
 */
export interface CommitLinger {
  ms: number;
  rows: number;
}

/**
 * Creates a committer; `onBatch` observes each batch's size and duration (for metrics); `linger`
 * (default none) lets a back-to-back batch gather rows.
 */
export function createGroupCommitter<Row, Outcome>(
  write: CommitBatch<Row, Outcome>,
  options: { maxBatch: number; onBatch?: (size: number, seconds: number) => void; linger?: CommitLinger },
): GroupCommitter<Row, Outcome> {
  let queue: Pending<Row, Outcome>[] = [];
  let running: Promise<void> | null = null;
  /** Ends the current linger (when enough rows are queued). */
  let gathered: (() => void) | null = null;

  /** Waits, under the linger's limits, for more rows to join the queued ones. */
  function gather(linger: CommitLinger): Promise<void> {
    if (queue.length >= linger.rows) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        gathered = null;
        resolve();
      };
      const timer = setTimeout(end, linger.ms);
      gathered = end;
    });
  }

  async function drain(): Promise<void> {
    let first = true;
    while (queue.length > 0) {
      if (!first && options.linger !== undefined) await gather(options.linger);
      first = false;
      const batch = queue.slice(0, options.maxBatch);
      queue = queue.slice(batch.length);
      const started = process.hrtime.bigint();
      try {
        const outcomes = await write(batch.map((p) => p.row));
        if (outcomes.length !== batch.length)
          throw new Error(`commit returned ${outcomes.length} outcomes for ${batch.length} rows`);
        for (const [i, p] of batch.entries()) p.resolve(outcomes[i]!);
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
      options.onBatch?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  function kick(): void {
    if (running !== null) return;
    running = new Promise<void>((resolve) => setImmediate(resolve)).then(drain).finally(() => {
      running = null;
      if (queue.length > 0) kick();
    });
  }

  return {
    commit(row) {
      return new Promise<Outcome>((resolve, reject) => {
        queue.push({ row, resolve, reject });
        if (gathered !== null && queue.length >= (options.linger?.rows ?? 0)) gathered();
        kick();
      });
    },
    async flush() {
      while (running !== null) await running;
    },
    get pending() {
      return queue.length;
    },
  };
}
