/** Listens on a port and closes gracefully: stop accepting, let in-flight requests finish, then cut. */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { BotflowError } from '../errors.ts';

/** A listening server. */
export interface Listening {
  server: Server;
  url: string;
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `app` (a Koa app, or a request listener such as the hot routes in front of one) on
 * `host:port` (port 0: any free port); a taken port is PORT_IN_USE.
 */
export async function listen(
  app: Koa | RequestListener,
  options: { port: number; host?: string },
): Promise<Listening> {
  const server = createServer(typeof app === 'function' ? app : app.callback());
  server.listen(options.port, options.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new BotflowError(
              'PORT_IN_USE',
              `port ${options.port} is in use (another botflow?); set PORT to a free port`,
              { cause: error },
            )
          : error,
      ),
    );
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: (timeoutMs = 10_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
