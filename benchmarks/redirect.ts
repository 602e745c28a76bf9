/**
 * The ad-click redirect: requests/s and p50/p99 latency of `GET /r/:slug` (fbclid, UTMs and `_fbp`
 * cookie in, click stored in Redis, `_fbc`/`_fbp` set, PageView conversion recorded, 302 to t.me) on
 * an in-process botflow with real Postgres and Redis, beside a bare Koa app answering the same 302,
 * through the same client loop in the same run. Prints one JSON object.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Koa from 'koa';
import { Redis } from 'ioredis';
import { bootstrap } from '../src/bootstrap.ts';
import { listen } from '../src/http/serve.ts';
import { createHttpClient, type HttpAnswer, runConcurrently } from './lib/http-load.ts';
import { environment, quantile, round } from './lib/stats.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 10_000);
/**
 * Clicks before each measured run, the same for both: V8 compiles botflow's redirect path over its
 * first few thousand clicks, and the bare Koa app runs second in this process, on the HTTP client and
 * server code botflow's run already warmed.
 */
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 5000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 50);
const PIXEL = process.env['BENCH_PIXEL'] !== '0';
const PREFIX = `bf-bench-${randomBytes(4).toString('hex')}`;
const log = (line: string) => process.stderr.write(`redirect: ${line}\n`);

const host = await environment();
const client = createHttpClient(CONCURRENCY);

/** The ad click of request i: a fresh fbclid, UTMs, and a `_fbp` cookie as a returning browser has. */
function clickOf(i: number) {
  const fbclid = `IwAR${randomBytes(24).toString('base64url')}`;
  return {
    query: `?fbclid=${fbclid}&utm_source=facebook&utm_medium=cpc&utm_campaign=vip&utm_content=ad${i % 7}`,
    headers: {
      cookie: `_fbp=fb.1.1700000000000.${1_000_000_000 + i}`,
      'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) bench',
    },
  };
}

/** CPU ms this process used since `before`. */
function cpuMsSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Sends `count` clicks to `url` with the shared client; each must be a 302 to t.me. */
async function measure(url: string, count: number) {
  const latencies: number[] = [];
  const cpuBefore = process.cpuUsage();
  const seconds = await runConcurrently(count, CONCURRENCY, async (i) => {
    const click = clickOf(i);
    const t = process.hrtime.bigint();
    const answer: HttpAnswer = await client.send(`${url}${click.query}`, { headers: click.headers });
    latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    const location = String(answer.headers['location'] ?? '');
    if (answer.status !== 302 || !location.startsWith('https://t.me/'))
      throw new Error(`expected a 302 to t.me, got ${answer.status} ${location}`);
  });
  return {
    requests: count,
    requests_per_second: round(count / seconds, 1),
    // The whole process (server and client loop, plus botflow's Redis and Postgres clients), less noisy than rates on a busy host.
    cpu_ms_per_request: round(cpuMsSince(cpuBefore) / count, 4),
    latency_ms: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
  };
}

const database = await createThrowawayDatabase();
const redis = new Redis(REDIS, { lazyConnect: true });
try {
  const app = await bootstrap({
    env: { DATABASE_URL: database.url, REDIS_URL: REDIS, LOG_LEVEL: 'silent' },
    // Nothing here may reach the internet: no bot call is made, conversions are only stored.
    config: { telegramApiRoot: 'http://127.0.0.1:9', metaGraphUrl: 'http://127.0.0.1:9' },
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: PREFIX,
  });
  let stored: { clicks: number; pageviews: number };
  let botflow: Awaited<ReturnType<typeof measure>>;
  let sampleLocation: string;
  try {
    await app.addBot({
      id: 'bench',
      token: '7300000003:bench',
      username: 'bench_vip_bot',
      setWebhook: false,
      ...(PIXEL ? { pixel: { pixel_id: '123456789012345', access_token: 'bench-meta-token' } } : {}),
    });
    await app.funnel.links.add({ slug: 'vip-ads', botId: 'bench', campaign: 'bench' });
    const url = `${app.url}/r/vip-ads`;
    const first = await client.send(`${url}${clickOf(0).query}`, { headers: clickOf(0).headers });
    sampleLocation = String(first.headers['location']);
    log(`botflow: warm-up, then ${REQUESTS} clicks`);
    await measure(url, WARMUP);
    botflow = await measure(url, REQUESTS);
    const rows = await app.db.orm.em
      .getConnection()
      .execute<{ n: string }[]>(`select count(*)::text as n from conversion_events`);
    stored = { clicks: 0, pageviews: Number(rows[0]!.n) };
  } finally {
    await app.close();
  }
  await redis.connect();
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  stored.clicks = keys.filter((k) => k.startsWith(`${PREFIX}:click:`)).length;
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));

  // Baseline: a bare Koa app answering the same 302 (same Location shape) to the same clicks.
  const bare = new Koa();
  bare.use((ctx) => {
    ctx.status = 302;
    ctx.redirect(sampleLocation);
  });
  const served = await listen(bare, { port: 0, host: '127.0.0.1' });
  log(`bare Koa: warm-up, then ${REQUESTS} clicks`);
  await measure(`${served.url}/r/vip-ads`, WARMUP);
  const baseline = await measure(`${served.url}/r/vip-ads`, REQUESTS);
  await served.close();

  // The design's own minimum: the same Koa 302 once the click is in Redis (one auto-pipelined SET with
  // a TTL per click, as a hand-written tracker would store it), no PageView.
  const clicks = new Redis(REDIS, { enableAutoPipelining: true });
  const withClick = new Koa();
  withClick.use(async (ctx) => {
    const token = randomUUID().replaceAll('-', '');
    const click = {
      slug: 'vip-ads',
      created_at: Date.now(),
      fbclid: ctx.query['fbclid'],
      fbp: ctx.cookies.get('_fbp'),
      ip: ctx.ip,
      user_agent: ctx.get('user-agent'),
      utm: { source: ctx.query['utm_source'], medium: ctx.query['utm_medium'] },
    };
    await clicks.set(`${PREFIX}:koa-click:${token}`, JSON.stringify(click), 'EX', 86_400);
    ctx.status = 302;
    ctx.redirect(sampleLocation);
  });
  const servedWithClick = await listen(withClick, { port: 0, host: '127.0.0.1' });
  log(`Koa storing the click in Redis: warm-up, then ${REQUESTS} clicks`);
  await measure(`${servedWithClick.url}/r/vip-ads`, WARMUP);
  const koaWithClick = await measure(`${servedWithClick.url}/r/vip-ads`, REQUESTS);
  await servedWithClick.close();
  for (;;) {
    const [next, batch] = await clicks.scan('0', 'MATCH', `${PREFIX}:koa-click:*`, 'COUNT', 5000);
    if (batch.length > 0) await clicks.del(...batch);
    if (next === '0' && batch.length === 0) break;
  }
  clicks.disconnect();

  process.stdout.write(
    `${JSON.stringify({
      ...host,
      concurrency: CONCURRENCY,
      pixel: PIXEL,
      botflow: { ...botflow, stored_after_all_requests_with_warm_up: stored },
      baseline_bare_koa_302: baseline,
      ratio_botflow_over_koa: round(botflow.requests_per_second / baseline.requests_per_second, 3),
      ratio_cpu_koa_over_botflow: round(baseline.cpu_ms_per_request / botflow.cpu_ms_per_request, 3),
      reference_koa_storing_click_in_redis: {
        ...koaWithClick,
        ratio_over_koa: round(koaWithClick.requests_per_second / baseline.requests_per_second, 3),
        note: 'the bare Koa 302 after one auto-pipelined ioredis SET of the click with a TTL: what storing the click before answering costs without botflow',
      },
      note: 'one process: botflow (or Koa) and the client loop share it; botflow reads the link (Postgres, cached 5 s), stores the click in Redis and, with a pixel, a PageView row in Postgres per request (rows arriving together share one commit)',
    })}\n`,
  );
} finally {
  client.close();
  redis.disconnect();
  await database.drop();
}
