/**
 * How every baseline bot of the webhook benchmark serves: its grammY webhook handler on a node:http
 * server at a free loopback port, told to the parent (`{ port }` over IPC); a failed update is said on
 * stderr under the bot's name (the bench then stops on the 500); when the parent disconnects, the
 * server closes with its connections and `onClose` runs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Serves `handle` until the parent disconnects. */
export function serveBenchBot(
  name: string,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>,
  onClose: () => void = () => {},
): void {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  process.on('disconnect', () => {
    server.close();
    server.closeAllConnections();
    onClose();
  });
}
