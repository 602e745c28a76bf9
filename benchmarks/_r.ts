import { randomBytes } from 'node:crypto';
import Koa from 'koa';
import { bootstrap } from '../src/bootstrap.ts';
import { listen } from '../src/http/serve.ts';
import { createHttpClient, runConcurrently } from './lib/http-load.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';
const client = createHttpClient(50);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
async function m(name: string, url: string, n = 4000, headers = {}) {
  await runConcurrently(500, 50, async () => { await client.send(url, { headers }); });
  const t = cpu();
  await runConcurrently(n, 50, async () => { await client.send(url, { headers }); });
  console.log(name, ((cpu() - t) / n).toFixed(4), 'ms/req');
}
const db = await createThrowawayDatabase();
const app = await bootstrap({ env: { DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:6379', LOG_LEVEL: 'silent' }, config: { telegramApiRoot: 'http://127.0.0.1:9', metaGraphUrl: 'http://127.0.0.1:9' }, http: { port: 0 }, timerIntervalMs: 0, jobsIntervalMs: 0, redisPrefix: `bf-bench-${randomBytes(4).toString('hex')}` });
await app.addBot({ id: 'bench', token: '7300000003:bench', username: 'bench_vip_bot', setWebhook: false });
await app.addBot({ id: 'px', token: '7300000004:px', username: 'px_vip_bot', setWebhook: false, pixel: { pixel_id: '123456789012345', access_token: 'bench-meta-token' } });
await app.funnel.links.add({ slug: 'px-ads', botId: 'px', campaign: 'bench' });
await app.funnel.links.add({ slug: 'vip-ads', botId: 'bench', campaign: 'bench' });
const bare = new Koa(); bare.use((ctx) => { ctx.status = 302; ctx.redirect('https://t.me/bench_vip_bot?start=0123456789abcdef0123456789abcdef'); });
const s = await listen(bare, { port: 0 });
for (let k = 0; k < 3; k++) {
  await m('bare koa', `${s.url}/r/x`);
  await m('botflow /healthz', `${app.url}/healthz`);
  await m('botflow /r/ pixel', `${app.url}/r/px-ads?fbclid=IwAR${'x'.repeat(30)}&utm_source=fb`, 4000, { cookie: '_fbp=fb.1.1700000000000.1234567890' });
  await m('botflow /r/ no pixel', `${app.url}/r/vip-ads?fbclid=IwAR${'x'.repeat(30)}&utm_source=fb`, 4000, { cookie: '_fbp=fb.1.1700000000000.1234567890' });
}
await s.close(); await app.close(); client.close(); await db.drop(); process.exit(0);
