import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  createGatewayPool,
  type GatewayPool,
  GatewayRequestFailure,
  requestGateway,
} from '../../src/payments/gateway-request.ts';

const SECRET = 'Bearer sk_live_NEVER_IN_AN_ERROR';

/** A local HTTP server whose handler each test sets, counting the connections it accepted. */
async function startServer() {
  let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void = (_req, _body, res) =>
    res.end('{}');
  const counts = { opened: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, body, res));
  });
  server.on('connection', () => counts.opened++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    onRequest(next: typeof handle) {
      handle = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Asserts `error` is a failure with `reason` that names nothing that was sent. */
function failedWith(reason: string, stage: 'request' | 'answer' = 'request') {
  return (error: unknown) => {
    assert.ok(error instanceof GatewayRequestFailure, String(error));
    assert.equal(error.reason, reason);
    assert.equal(error.stage, stage);
    for (const text of [
      error.message,
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
      String(error.stack),
    ])
      assert.doesNotMatch(text, /NEVER_IN_AN_ERROR|secret-body/);
    return true;
  };
}

describe('requestGateway (undici request over a keep-alive pool, real HTTP)', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let pool: GatewayPool;
  before(async () => {
    server = await startServer();
    pool = createGatewayPool();
  });
  after(async () => {
    await pool.close();
    await server.close();
  });

  const call = (path: string, extra: { method?: string; body?: string; timeoutMs?: number } = {}) =>
    requestGateway(
      {
        method: extra.method ?? 'GET',
        url: `${server.url}${path}`,
        headers: { authorization: SECRET, accept: 'application/json' },
        ...(extra.body === undefined ? {} : { body: extra.body }),
        timeoutMs: extra.timeoutMs ?? 5000,
      },
      pool,
    );

  it('sends the method, headers and body, and answers the status and text', async () => {
    let seen: { method?: string; url?: string; auth?: string; type?: string; body?: string } = {};
    server.onRequest((req, body, res) => {
      seen = {
        method: req.method!,
        url: req.url!,
        auth: req.headers.authorization!,
        type: req.headers['content-type']!,
        body,
      };
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"ch_1"}');
    });
    const answer = await requestGateway(
      {
        method: 'POST',
        url: `${server.url}/v1/charges?x=1`,
        headers: { authorization: SECRET, 'content-type': 'application/json' },
        body: '{"amount_cents":990}',
        timeoutMs: 5000,
      },
      pool,
    );
    assert.deepEqual(answer, { status: 201, ok: true, text: '{"id":"ch_1"}' });
    assert.deepEqual(seen, {
      method: 'POST',
      url: '/v1/charges?x=1',
      auth: SECRET,
      type: 'application/json',
      body: '{"amount_cents":990}',
    });
  });

  it('answers a refusal as a status that is not ok, with its body', async () => {
    server.onRequest((_req, _body, res) => res.writeHead(409).end('{"error":{"code":"dup"}}'));
    assert.deepEqual(await call('/x'), { status: 409, ok: false, text: '{"error":{"code":"dup"}}' });
    server.onRequest((_req, _body, res) => res.writeHead(503).end(''));
    assert.deepEqual(await call('/x'), { status: 503, ok: false, text: '' });
  });

  it('serves calls one after another over one kept-alive connection', async () => {
    server.onRequest((_req, _body, res) => res.end('{}'));
    await call('/warm');
    const before = server.counts.opened;
    for (let i = 0; i < 20; i++) assert.equal((await call(`/c${i}`)).status, 200);
    assert.equal(server.counts.opened - before, 0);
  });

  it('refuses a redirect without following it', async () => {
    const paths: string[] = [];
    server.onRequest((req, _body, res) => {
      paths.push(req.url!);
      if (req.url === '/moved') res.writeHead(302, { location: `${server.url}/elsewhere` }).end('');
      else res.end('{}');
    });
    await assert.rejects(call('/moved'), failedWith('redirect'));
    assert.deepEqual(paths, ['/moved']);
    // The connection stays usable after the refused redirect.
    assert.equal((await call('/after')).status, 200);
  });

  it('gives up at the deadline with TimeoutError', async () => {
    server.onRequest(() => undefined); // never answers
    await assert.rejects(call('/slow', { timeoutMs: 100 }), failedWith('TimeoutError'));
  });

  it('says an answer broke off after its status, with that status', async () => {
    server.onRequest((req, _body, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"id":');
      setTimeout(() => req.socket.destroy(), 20);
    });
    await assert.rejects(call('/broken', { body: 'secret-body', method: 'POST' }), (error) => {
      failedWith((error as GatewayRequestFailure).reason, 'answer')(error);
      assert.equal((error as GatewayRequestFailure).status, 200);
      return true;
    });
  });

  it("names a refused connection by the socket's code", async () => {
    await assert.rejects(
      requestGateway(
        { method: 'GET', url: 'http://127.0.0.1:1/x', headers: { authorization: SECRET }, timeoutMs: 5000 },
        pool,
      ),
      failedWith('ECONNREFUSED'),
    );
  });

  it('works over the global pool when none is given', async () => {
    server.onRequest((_req, _body, res) => res.end('{"ok":true}'));
    const answer = await requestGateway({
      method: 'GET',
      url: `${server.url}/global`,
      headers: {},
      timeoutMs: 5000,
    });
    assert.deepEqual(answer, { status: 200, ok: true, text: '{"ok":true}' });
  });

  it('closes its connections when the pool is closed', async () => {
    const own = createGatewayPool();
    let socketClosed: Promise<unknown> | undefined;
    server.onRequest((req, _body, res) => {
      socketClosed = new Promise((resolve) => req.socket.once('close', resolve));
      res.end('{}');
    });
    await requestGateway({ method: 'GET', url: `${server.url}/a`, headers: {}, timeoutMs: 5000 }, own);
    await own.close();
    await socketClosed; // the server saw the pool's connection close
    await assert.rejects(
      requestGateway({ method: 'GET', url: `${server.url}/b`, headers: {}, timeoutMs: 5000 }, own),
      GatewayRequestFailure,
    );
  });
});
