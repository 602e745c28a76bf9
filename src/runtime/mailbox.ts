/**
 * A conversation's mailbox: runs its jobs one at a time in arrival order, and refuses new ones with a
 * retryable `MAILBOX_FULL` when `capacity` are already waiting. Nothing accepted is ever dropped.
 */
import { BotflowError } from '../errors.ts';

/** A single-consumer job queue. */
export interface Mailbox {
  /** Queues `job`; resolves or rejects with its outcome once every earlier job has finished. */
  post<T>(job: () => Promise<T>): Promise<T>;
  /** Jobs waiting or running. */
  readonly depth: number;
  /** Resolves when the mailbox is empty. */
  idle(): Promise<void>;
}

/** Creates a mailbox holding at most `capacity` jobs (running one included). */
export function createMailbox(capacity: number): Mailbox {
  let depth = 0;
  let tail: Promise<unknown> = Promise.resolve();
  return {
    post<T>(job: () => Promise<T>): Promise<T> {
      if (depth >= capacity) {
        return Promise.reject(
          new BotflowError('MAILBOX_FULL', `conversation mailbox is full (${capacity} waiting)`),
        );
      }
      depth += 1;
      const run = tail.then(job);
      tail = run.then(
        () => {
          depth -= 1;
        },
        () => {
          depth -= 1;
        },
      );
      return run;
    },
    get depth() {
      return depth;
    },
    async idle() {
      while (depth > 0) await tail;
    },
  };
}
