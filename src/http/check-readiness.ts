/**
 * Readiness (`/health/ready`): not ready while shutting down (a balancer stops sending before the
 * drain), nor while the database does not answer a ping; ready otherwise.
 */
import { BotflowError } from '../errors.ts';

/** Creates the check: null when ready, else the coded reason. */
export function createReadinessCheck(options: {
  shuttingDown(): boolean;
  /** A trivial query against the system of record. */
  ping(): Promise<unknown>;
}): () => Promise<BotflowError | null> {
  return async () => {
    if (options.shuttingDown()) return new BotflowError('SHUTTING_DOWN', 'draining');
    try {
      await options.ping();
      return null;
    } catch (error) {
      return error instanceof BotflowError ? error : new BotflowError('STORE_UNAVAILABLE', 'database down');
    }
  };
}
