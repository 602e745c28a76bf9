/**
 * Fails fast with PORT_IN_USE when botflow's HTTP port is taken, before the database is opened and
 * loops started (seconds on the embedded database); listening itself still reports a port lost meanwhile.
 */
import { createServer } from 'node:net';
import { BotflowError } from '../errors.ts';

/** Resolves when `port` on `host` can be bound (port 0 always can); rejects with PORT_IN_USE otherwise. */
export function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new BotflowError(
              'PORT_IN_USE',
              `port ${port} is in use (another botflow?); set PORT to a free port`,
            )
          : error,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
