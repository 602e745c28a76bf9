/**
 * `GET /r/:slug` with the click store (Redis) cut through a TCP proxy: the buyer is still sent to the
 * bot (a plain t.me link, the click unattributed) instead of an error page, and clicks are tracked
 * again as soon as Redis is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { quickBuyFlow } from '../support/funnel-harness.ts';
import { type Stack, startStack } from '../support/start-stack.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const REDIS = new URL(process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379');
let proxy: TcpProxy;
let stack: Stack;

before(async () => {
  proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) });
  const url = new URL(REDIS.href);
  url.port = String(proxy.port);
  stack = await startStack({
    botId: 'rcut',
    botNumber: 7700000301,
    username: 'rcut_test_bot',
    flow: quickBuyFlow,
    pixel: { pixel_id: '777000777', access_token: 'meta-token-of-rcut' },
    adminToken: 'admin-token-for-redis-cut-tests',
    redisUrl: url.href,
  });
  await stack.app.funnel.links.add({ slug: 'ads-rcut', botId: 'rcut', campaign: 'cut' });
});
after(async () => {
  await stack.close();
  await proxy.close();
});

const click = () => fetch(`${stack.app.url}/r/ads-rcut?fbclid=IwAR-cut-test`, { redirect: 'manual' });

describe('GET /r/:slug while Redis is cut', () => {
  it('tracks the click while Redis answers', async () => {
    const res = await click();
    assert.equal(res.status, 302);
    assert.match(res.headers.get('location') ?? '', /^https:\/\/t\.me\/rcut_test_bot\?start=[0-9a-f]{32}$/);
  });

  it('still sends the buyer to the bot, without a token, and tracks again after', async () => {
    proxy.cut();
    try {
      const res = await click();
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), 'https://t.me/rcut_test_bot');
    } finally {
      proxy.restore();
    }
    let location = '';
    for (let i = 0; i < 100 && !/\?start=/.test(location); i++) {
      location = (await click()).headers.get('location') ?? '';
      if (!/\?start=/.test(location)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(location, /^https:\/\/t\.me\/rcut_test_bot\?start=[0-9a-f]{32}$/);
  });
});
