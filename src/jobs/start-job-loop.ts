/**
 * Runs a job every `everyMs` (never two rounds at once; a round that fails is logged and the next one
 * runs on time). `stop` clears the timer and waits for the round in progress, so no job query outlives
 * the database it uses.
 */
import type { Logger } from 'pino';

/** A running loop. */
export interface JobLoop {
  stop(): Promise<void>;
}

/** Starts the loop (`everyMs` 0: no loop; callers run rounds themselves). */
export function startJobLoop(run: () => Promise<unknown>, everyMs: number, logger: Logger): JobLoop {
  let round: Promise<void> | undefined;
  const timer =
    everyMs > 0
      ? setInterval(() => {
          if (round !== undefined) return;
          round = run()
            .then(
              () => {},
              (error: unknown) => logger.warn({ code: (error as { code?: string }).code }, 'jobs failed'),
            )
            .finally(() => {
              round = undefined;
            });
        }, everyMs)
      : undefined;
  timer?.unref();
  return {
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      await round;
    },
  };
}
