/**
 * The hot routes in front of the Koa app, over real HTTP: they answer only their two paths (the rest
 * reaches Koa), refuse another method with 405, map errors exactly as the Koa app does, and count each
 * request under its route.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { BotflowError } from '../../src/errors.ts';
import { createHttpApp } from '../../src/http/create-http-app.ts';
import { createHotRoutes } from '../../src/http/hot-routes.ts';
import { type Listening, listen } from '../../src/http/serve.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { Router } from '@koa/router';

const logger = pino({ level: 'silent' });
/** What the test handlers throw, by the id or slug asked for. */
const failures: Record<string, unknown> = {
  unauthorized: new BotflowError('UNAUTHORIZED', 'missing or wrong webhook secret'),
  busy: new BotflowError('STORE_UNAVAILABLE', 'the database did not answer'),
  detailed: new BotflowError('BAD_REQUEST', 'the body does not have the expected shape', {
    details: [{ path: 'update_id', message: 'Required' }],
  }),
  crash: new TypeError('cannot read properties of undefined'),
};

let metrics: Metrics;
let hot: Listening;
let koaOnly: Listening;
const seen: string[] = [];

before(async () => {
  metrics = createMetrics();
  // The same failures thrown by a Koa route, to compare the answers byte for byte.
  const failing = new Router();
  failing.get('/fail/:what', (ctx) => {
    throw failures[ctx.params['what'] ?? ''];
  });
  const app = createHttpApp({ logger, metrics, notReady: async () => null, routers: [failing] });
  hot = await listen(
    createHotRoutes({
      telegram: async (botId) => {
        if (botId in failures) throw failures[botId];
        seen.push(`telegram ${botId}`);
        return { method: 'answerCallbackQuery', callback_query_id: 'q1' };
      },
      redirect: async (slug, querystring) => {
        if (slug in failures) throw failures[slug];
        seen.push(`redirect ${slug} ${querystring}`);
        return {
          status: 302,
          headers: { location: 'https://t.me/hot_test_bot?start=x' },
          body: 'Redirecting.',
        };
      },
      metrics,
      logger,
      fallback: app.callback(),
    }),
    { port: 0 },
  );
  koaOnly = await listen(app, { port: 0 });
});
after(async () => {
  await hot.close();
  await koaOnly.close();
});

const send = (path: string, method = 'GET') =>
  fetch(`${hot.url}${path}`, { method, redirect: 'manual', ...(method === 'POST' ? { body: '{}' } : {}) });

describe('hot routes', () => {
  it('answer the webhook and the redirect, with their path segment and query, and a Content-Length', async () => {
    seen.length = 0;
    const webhook = await send('/telegram/bot_1', 'POST');
    assert.equal(webhook.status, 200);
    assert.equal(webhook.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = await webhook.text();
    assert.deepEqual(JSON.parse(body), { method: 'answerCallbackQuery', callback_query_id: 'q1' });
    assert.equal(webhook.headers.get('content-length'), String(Buffer.byteLength(body)));
    const click = await send('/r/ads-1?fbclid=abc&utm_source=fb');
    assert.equal(click.status, 302);
    assert.equal(click.headers.get('location'), 'https://t.me/hot_test_bot?start=x');
    // As the router matched: case-insensitive path, one trailing slash, percent-decoded segment.
    assert.equal((await send('/R/ads-2/')).status, 302);
    assert.equal((await send('/r/ads%2D3')).status, 302);
    assert.deepEqual(seen, [
      'telegram bot_1',
      'redirect ads-1 fbclid=abc&utm_source=fb',
      'redirect ads-2 ',
      'redirect ads-3 ',
    ]);
  });

  it('leave every other request to the Koa app', async () => {
    seen.length = 0;
    const health = await send('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    for (const path of ['/r/', '/r/a/b', '/telegram', '/telegram/a/b', '/nowhere']) {
      const res = await send(path);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    }
    assert.deepEqual(seen, []);
  });

  it('refuse another method with 405 and the allowed ones', async () => {
    const get = await send('/telegram/bot_1');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const post = await send('/r/ads-1', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'HEAD, GET');
  });

  it('map errors exactly as the Koa app does (status, Retry-After, body bytes), a crash included', async () => {
    for (const what of Object.keys(failures)) {
      const fromKoa = await fetch(`${koaOnly.url}/fail/${what}`);
      const expected = await fromKoa.text();
      for (const res of [await send(`/telegram/${what}`, 'POST'), await send(`/r/${what}`)]) {
        assert.equal(res.status, fromKoa.status, what);
        assert.equal(res.headers.get('retry-after'), fromKoa.headers.get('retry-after'), what);
        assert.equal(res.headers.get('content-type'), fromKoa.headers.get('content-type'), what);
        assert.equal(await res.text(), expected, what);
      }
    }
    // Still serving after all of them.
    assert.equal((await send('/r/ads-1')).status, 302);
  });

  it('count each request under its route and status', async () => {
    const exposition = await metrics.registry.metrics();
    assert.match(exposition, /botflow_http_requests_total\{route="\/r\/:slug",status="302"\} [1-9]/);
    assert.match(exposition, /botflow_http_requests_total\{route="\/telegram\/:botId",status="200"\} [1-9]/);
    assert.match(exposition, /botflow_http_requests_total\{route="\/telegram\/:botId",status="401"\} [1-9]/);
    assert.match(exposition, /botflow_http_request_duration_seconds_count\{route="\/r\/:slug"\} [1-9]/);
  });
});
