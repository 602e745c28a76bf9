/**
 * A free loopback port, for a server started later by another process (a cluster's workers share
 * it): the OS picks one, which is released at once.
 */
import { createServer } from 'node:net';

/** Resolves with a port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
