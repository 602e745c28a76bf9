/**
 * Test support: the load balancer in front of several botflow hosts. Each HTTP request (a Telegram
 * webhook, a gateway webhook, a click on a tracking link) goes to the next host in turn. A host that
 * refuses the connection (it is dead: nothing reached it) is skipped for the next one; any other
 * failure is answered 502, so the sender (Telegram, the gateway) redelivers, as behind a real balancer.
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running front door. */
export interface FrontDoor {
  url: string;
  /** The hosts requests rotate over, as base URLs (`http://addr:port`); set it as hosts come and go. */
  setBackends(urls: string[]): void;
  /** Requests answered by each backend URL so far (a refused connection does not count). */
  readonly forwarded: Map<string, number>;
  close(): Promise<void>;
}

/** Reads a request's whole body (webhooks are small). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Sends the request to one backend; rejects with the socket error when there was no answer. */
function forward(agent: Agent, backend: string, req: IncomingMessage, body: Buffer, res: ServerResponse) {
  return new Promise<void>((resolve, reject) => {
    const out = request(
      new URL(req.url ?? '/', backend),
      { method: req.method, headers: { ...req.headers, host: new URL(backend).host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', resolve);
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

/** Starts a front door on `host` (an address every client can reach) and an ephemeral port. */
export async function startFrontDoor(host: string): Promise<FrontDoor> {
  let backends: string[] = [];
  let turn = 0;
  const forwarded = new Map<string, number>();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req).catch(() => Buffer.alloc(0));
      const order = backends.length;
      for (let tried = 0; tried < order; tried++) {
        const backend = backends[turn++ % backends.length]!;
        try {
          await forward(agent, backend, req, body, res);
          forwarded.set(backend, (forwarded.get(backend) ?? 0) + 1);
          return;
        } catch (error) {
          // Refused: the host is down and saw nothing, so the next one may take it.
          if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' && !res.headersSent) continue;
          break;
        }
      }
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('no host answered');
    })();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    setBackends(urls) {
      backends = [...urls];
    },
    forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
