/**
 * Telegram webhooks end to end: updates/s and the latency from sending the webhook POST to the fake
 * Bot API receiving that update's first send, for botflow as a cluster of 1 and 2 workers (real
 * Postgres and Redis, the VIP funnel published; each user sends /start, a wrong e-mail, an e-mail and
 * an offer button) beside a stateless grammY webhook bot answering every update with one sendMessage,
 * through the same client loop in the same run. Prints one JSON object.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { bootstrap } from '../src/bootstrap.ts';
import { startPrimary } from '../src/cluster/start-primary.ts';
import { startFakeBotApi } from '../src/sim/fake-bot-api.ts';
import { startSandboxGateway } from '../src/sim/sandbox-gateway.ts';
import { encodeCallbackData } from '../src/telegram/callback-data.ts';
import { createHttpClient, preciseNow, runConcurrently } from './lib/http-load.ts';
import { environment, quantile, round } from './lib/stats.ts';
import { watchCalls } from './lib/watch-calls.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const UPDATES = Number(process.env['BENCH_UPDATES'] ?? 800);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 50);
const PER_USER = 4;
/** One Redis prefix for the run, shared by the setup process and the cluster's workers. */
const PREFIX = `bf-bench-${randomBytes(4).toString('hex')}`;
const USERS = Math.max(1, Math.floor(UPDATES / PER_USER));
const log = (line: string) => process.stderr.write(`webhook: ${line}\n`);

const vip = JSON.parse(readFileSync(new URL('../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));
// The bot id is random: cluster workers use the default Redis prefix (it cannot be passed to them), so
// every key they could touch (the flood gate of this bot) is this run's own.
const BOT_ID = `bench_${randomBytes(4).toString('hex')}`;
const TOKEN = `7300000001:bench-${randomBytes(8).toString('hex')}`;
const GRAMMY_TOKEN = `7300000002:bench-${randomBytes(8).toString('hex')}`;
const GRAMMY_SECRET = randomBytes(24).toString('base64url');

/** The k-th update (0-3) of a user: /start, a wrong e-mail, an e-mail, the first offer button. */
function updateOf(user: number, k: number, button: string, updateId: number): Record<string, unknown> {
  const from = { id: user, is_bot: false, first_name: 'Bench' };
  if (k === 3)
    return {
      update_id: updateId,
      callback_query: { id: `q${user}_${updateId}`, from, chat_instance: 'bench', data: button },
    };
  const text = ['/start', 'not an e-mail', `user${user}@example.com`][k]!;
  return {
    update_id: updateId,
    message: { message_id: updateId, date: 1, chat: { id: user, type: 'private' }, from, text },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const host = await environment();
const fake = await startFakeBotApi({ now: preciseNow });
fake.addBot({ token: TOKEN, id: 7300000001, username: 'bench_botflow_bot' });
fake.addBot({ token: GRAMMY_TOKEN, id: 7300000002, username: 'bench_grammy_bot' });
const calls = watchCalls(fake);
const sandbox = await startSandboxGateway({ apiKey: 'bench-key', webhookSecret: 'bench-secret' });
const client = createHttpClient(CONCURRENCY);
const database = await createThrowawayDatabase();
let nextUpdateId = 1;

/**
 * Drives `users` users from `firstUser` through the four updates against `url`, one update of a user
 * at a time: the next is posted once the previous one's answer came back and all its sends (counted in
 * the warm-up) reached the fake, so each latency is that update's own first send.
 */
async function drive(options: {
  url: string;
  secret: string;
  button: string;
  firstUser: number;
  users: number;
  sendsPerUpdate: number[];
}) {
  const latencies: number[] = [];
  const answered: number[] = [];
  const seconds = await runConcurrently(options.users, CONCURRENCY, async (i) => {
    const user = options.firstUser + i;
    for (let k = 0; k < PER_USER; k++) {
      const before = calls.count(user);
      const body = JSON.stringify(updateOf(user, k, options.button, nextUpdateId++));
      const sentAt = preciseNow();
      const answer = await client.send(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': options.secret },
        body,
      });
      if (answer.status !== 200) throw new Error(`webhook answered ${answer.status}: ${answer.body}`);
      answered.push(preciseNow() - sentAt);
      // All of this update's sends (the button's includes the PIX charge), so the measured time holds all the work.
      await calls.until(user, before + options.sendsPerUpdate[k]!);
      latencies.push(calls.at(user, before) - sentAt);
    }
  });
  const updates = options.users * PER_USER;
  return {
    updates,
    updates_per_second: round(updates / seconds, 1),
    latency_ms: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
    answer_ms: { p50: round(quantile(answered, 0.5)), p99: round(quantile(answered, 0.99)) },
  };
}

/** Sends per update for one user, counted by driving a warm-up user slowly (quiet 0.5 s after each). */
async function countSends(url: string, secret: string, button: string, user: number): Promise<number[]> {
  const counts: number[] = [];
  for (let k = 0; k < PER_USER; k++) {
    const before = calls.count(user);
    const answer = await client.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify(updateOf(user, k, button, nextUpdateId++)),
    });
    if (answer.status !== 200) throw new Error(`warm-up webhook answered ${answer.status}: ${answer.body}`);
    let seen = -1;
    while (seen !== calls.count(user)) {
      seen = calls.count(user);
      await new Promise((r) => setTimeout(r, 500));
    }
    counts.push(calls.count(user) - before);
  }
  if (counts.some((c) => c < 1)) throw new Error(`an update produced no send: ${counts.join(',')}`);
  return counts;
}

/** A few users through the whole funnel before measuring (connections, JIT, flow cache). */
async function warmUp(options: Omit<Parameters<typeof drive>[0], 'users'>) {
  await drive({ ...options, users: Math.min(CONCURRENCY, 10) });
}

try {
  // Register the bot and publish the flow once, through an in-process botflow on the same database.
  const setup = await bootstrap({
    env: { DATABASE_URL: database.url, REDIS_URL: REDIS, LOG_LEVEL: 'silent' },
    config: { telegramApiRoot: fake.url, metaGraphUrl: 'http://127.0.0.1:9' },
    http: false,
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: PREFIX,
  });
  await setup.addBot({
    id: BOT_ID,
    token: TOKEN,
    username: 'bench_botflow_bot',
    gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'bench-key', webhook_secret: 'bench-secret' },
  });
  const version = await setup.publishFlow(BOT_ID, vip);
  const secret = (await setup.funnel.settingsOf(BOT_ID))!.webhookSecret;
  await setup.close();
  const button = encodeCallbackData({ version, step: 'offers', index: 0 });

  // Baseline: the grammY bot in its own process.
  const child = fork(new URL('./lib/grammy-webhook-bot.ts', import.meta.url).pathname, {
    env: { ...process.env, BENCH_API_ROOT: fake.url, BENCH_TOKEN: GRAMMY_TOKEN, BENCH_SECRET: GRAMMY_SECRET },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const grammyPort = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the grammY bot exited (${code})`)));
  });
  const grammyUrl = `http://127.0.0.1:${grammyPort}/`;
  let grammy: Awaited<ReturnType<typeof drive>>;
  try {
    const grammySends = await countSends(grammyUrl, GRAMMY_SECRET, button, 1_000_001);
    await warmUp({
      url: grammyUrl,
      secret: GRAMMY_SECRET,
      button,
      firstUser: 1_100_000,
      sendsPerUpdate: grammySends,
    });
    log(`grammY: ${USERS} users x ${PER_USER} updates`);
    grammy = await drive({
      url: grammyUrl,
      secret: GRAMMY_SECRET,
      button,
      firstUser: 1_200_000,
      users: USERS,
      sendsPerUpdate: grammySends,
    });
  } finally {
    child.kill();
  }

  async function runBotflow(workers: number) {
    const port = await freePort();
    const primary = await startPrimary({
      workers,
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: REDIS,
        BOTFLOW_REDIS_PREFIX: PREFIX,
        PORT: String(port),
        LOG_LEVEL: 'silent',
        TELEGRAM_API_ROOT: fake.url,
        META_GRAPH_URL: 'http://127.0.0.1:9',
      },
    });
    try {
      await primary.settled();
      const url = `http://127.0.0.1:${port}/telegram/${BOT_ID}`;
      const base = workers * 10_000_000;
      const sends = await countSends(url, secret, button, base + 1);
      await warmUp({ url, secret, button, firstUser: base + 100_000, sendsPerUpdate: sends });
      log(
        `botflow, ${workers} worker(s): ${USERS} users x ${PER_USER} updates (sends per update ${sends.join(',')})`,
      );
      const result = await drive({
        url,
        secret,
        button,
        firstUser: base + 200_000,
        users: USERS,
        sendsPerUpdate: sends,
      });
      const methods: Record<string, number> = {};
      for (const call of fake.callsOf(TOKEN))
        methods[`${call.method} ${call.status}`] = (methods[`${call.method} ${call.status}`] ?? 0) + 1;
      log(`botflow, ${workers} worker(s): Bot API calls so far ${JSON.stringify(methods)}`);
      return { ...result, sends_per_update: sends };
    } finally {
      await primary.stop();
    }
  }
  const workers1 = await runBotflow(1);
  const workers2 = await runBotflow(2);

  process.stdout.write(
    `${JSON.stringify({
      ...host,
      updates: USERS * PER_USER,
      users: USERS,
      concurrency: CONCURRENCY,
      measured:
        'latency_ms: webhook POST sent -> first Bot API call for that chat received by the fake Bot API (same clock); answer_ms: POST sent -> 200 (botflow: state committed); a user posts its next update once all sends of the previous one arrived',
      updates_per_user:
        '/start, a wrong e-mail, an e-mail, the first offer button (botflow: opens a sandbox PIX charge)',
      botflow: { workers_1: workers1, workers_2: workers2 },
      baseline_grammy_stateless: {
        ...grammy,
        note: 'webhookCallback(bot, "http"), one sendMessage per update',
      },
      ratio_botflow_over_grammy: {
        workers_1: round(workers1.updates_per_second / grammy.updates_per_second, 3),
        workers_2: round(workers2.updates_per_second / grammy.updates_per_second, 3),
      },
    })}\n`,
  );
} finally {
  client.close();
  await Promise.all([fake.close(), sandbox.close()]);
  await database.drop();
}
