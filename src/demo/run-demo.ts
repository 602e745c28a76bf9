/**
 * The whole funnel offline, in one call: botflow on its embedded defaults (or DATABASE_URL /
 * REDIS_URL), with the fake Bot API, the sandbox PIX gateway and the fake Graph API on loopback; a
 * bot, a tracking link and the VIP example flow; N simulated buyers over real HTTP. Returns a funnel
 * report whose `ok` is true only when every paid order has its access and exactly one Purchase.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createSql } from '../db/sql-client.ts';
import { BotflowError } from '../errors.ts';
import { startFakeBotApi } from '../sim/fake-bot-api.ts';
import { startFakeGraphApi } from '../sim/fake-graph-api.ts';
import { startSandboxGateway } from '../sim/sandbox-gateway.ts';
import { removeDemoData } from './remove-demo-data.ts';
import { type DemoTarget, startDemoTarget } from './start-target.ts';
import { createInbox, type BuyerOutcome, type Persona, runBuyer } from './buyer.ts';

export interface DemoOptions {
  buyers: number;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Worker processes (above 1: a real cluster, which needs DATABASE_URL and REDIS_URL). */
  workers?: number;
  /** Buyers walking at once. */
  concurrency?: number;
  onProgress?(done: number, total: number): void;
  /**
   * Keep what the run wrote (its bot, payments, Redis keys; the embedded database in BOTFLOW_DATA_DIR).
   * By default the embedded database is a throwaway directory and Postgres rows and Redis keys are removed.
   */
  keep?: boolean;
  /** Stops the run (Ctrl-C): no new buyers start, the run cleans up and rejects with SHUTTING_DOWN. */
  signal?: AbortSignal;
  /**
   * Called with the report while botflow still runs (the console and admin API answer at `url` with
   * `adminToken`: BOTFLOW_ADMIN_TOKEN, or a random one made for this run); the run ends when it resolves.
   */
  whileServing?(serving: DemoServing): Promise<void>;
}

/** The running demo handed to `whileServing`. */
export interface DemoServing {
  url: string;
  adminToken: string;
  botId: string;
  flowId: string;
  report: DemoReport;
}

/** The funnel report (see README: demo). */
export interface DemoReport {
  ok: boolean;
  buyers: number;
  workers: number;
  /** Telegram updates botflow accepted (webhook POSTs answered 2xx). */
  webhooks: number;
  clicks: number;
  starts: number;
  charges: number;
  paid: number;
  expired: number;
  access_granted: number;
  joined: number;
  purchase_events_sent: number;
  purchase_events_with_fbc: number;
  purchase_events_with_fbp: number;
  purchase_events_with_ip_ua: number;
  /** Purchases carrying the buyer's hashed e-mail / phone (their answers to the flow's questions). */
  purchase_events_with_em: number;
  purchase_events_with_ph: number;
  purchases_from_tracked_clicks: number;
  tracked_purchases_missing_click_data: number;
  untracked_purchases_sent: number;
  duplicate_events: number;
  lost_events: number;
  paid_without_access: number;
  errors: number;
  error_samples: string[];
  p50_ms: number;
  p99_ms: number;
  duration_ms: number;
}

// A fresh bot per run: the fake numbers its updates from 1 again, and the database may be reused.
const botFor = (run: string) => ({
  id: `vip-${run}`,
  token: '7000000001:AAdemo-token-for-the-fake-bot-api',
  username: `vip_${run}_bot`,
  telegramId: 7000000001,
});
const PIXEL = { pixel_id: '123456789012345', access_token: 'demo-meta-access-token' };
const GROUP_CHAT_ID = -1001234567890;

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** The persona of buyer i: most pay, some let the charge expire, a few send garbage. */
function personaOf(i: number): Persona {
  if (i % 10 === 9) return 'garbage';
  if (i % 5 === 3) return 'expirer';
  return 'payer';
}

/** Runs the demo and returns its report. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  if (!Number.isInteger(options.buyers) || options.buyers < 1 || options.buyers > 100_000)
    throw new BotflowError('BAD_REQUEST', '--buyers must be an integer from 1 to 100000');
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw new BotflowError('BAD_REQUEST', '--workers must be an integer from 1 to 64');
  const started = Date.now();
  const runId = `${started.toString(36)}${randomBytes(2).toString('hex')}`;
  const bot = botFor(runId);
  const env = options.env ?? process.env;
  // The embedded database of a run that keeps nothing lives in a directory removed at the end.
  const throwaway =
    options.keep !== true && (env['DATABASE_URL'] ?? '').trim() === ''
      ? await mkdtemp(join(tmpdir(), 'botflow-demo-'))
      : undefined;
  // The console needs an admin token: the operator's own, or one made for this run only.
  const adminToken =
    options.whileServing === undefined || (env['BOTFLOW_ADMIN_TOKEN'] ?? '').trim() !== ''
      ? {}
      : { BOTFLOW_ADMIN_TOKEN: randomBytes(18).toString('base64url') };
  try {
    return await runDemoOn(
      options,
      { ...env, ...adminToken, ...(throwaway === undefined ? {} : { BOTFLOW_DATA_DIR: throwaway }) },
      {
        started,
        runId,
        bot,
        workers,
      },
    );
  } finally {
    if (throwaway !== undefined) await rm(throwaway, { recursive: true, force: true });
  }
}

/** Rejects once `signal` aborts (never, without one). */
function abortedBy(signal: AbortSignal | undefined): Promise<never> {
  return new Promise<never>((_, reject) => {
    const stop = () => reject(new BotflowError('SHUTTING_DOWN', 'demo interrupted'));
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
}

/** Runs the demo against botflow started with `env`. */
async function runDemoOn(
  options: DemoOptions,
  env: Record<string, string | undefined>,
  run: { started: number; runId: string; bot: ReturnType<typeof botFor>; workers: number },
): Promise<DemoReport> {
  const { started, runId, bot, workers } = run;
  const interrupted = abortedBy(options.signal);
  interrupted.catch(() => {});
  const fake = await startFakeBotApi({ retryBaseMs: 50 });
  const sandbox = await startSandboxGateway({
    apiKey: 'sandbox-demo-key',
    webhookSecret: 'sandbox-demo-secret',
    retryBaseMs: 50,
  });
  const graph = await startFakeGraphApi({ tokens: [PIXEL.access_token] });
  fake.addBot({ token: bot.token, id: bot.telegramId, username: bot.username });
  let target: DemoTarget;
  try {
    target = await startDemoTarget({
      workers,
      env,
      telegramApiRoot: fake.url,
      metaGraphUrl: graph.url,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } catch (error) {
    await Promise.all([fake.close(), sandbox.close(), graph.close()]);
    throw error;
  }
  const app = target.app;
  const inbox = createInbox(fake);
  try {
    await app.addBot({
      id: bot.id,
      token: bot.token,
      gateway: {
        kind: 'sandbox',
        api_base: sandbox.url,
        api_key: 'sandbox-demo-key',
        webhook_secret: 'sandbox-demo-secret',
      },
      pixel: PIXEL,
    });
    await app.funnel.links
      .add({ slug: `vip-ads-${runId}`, botId: bot.id, campaign: 'demo' })
      .catch((error: unknown) => {
        if ((error as BotflowError).code !== 'CONFLICT') throw error;
      });
    const flow = JSON.parse(
      await readFile(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'),
    );
    // The demo runs on a compressed clock: delays of a minute become a fraction of a second.
    for (const step of flow.flow_steps) if (step.delay_seconds !== undefined) step.delay_seconds = 0.3;
    for (const step of flow.flow_steps) if (step.type === 'access') step.config.chat_id = GROUP_CHAT_ID;
    flow.id = `vip-funnel-${runId}`;
    await app.publishFlow(bot.id, flow);

    const ctx = {
      appUrl: target.url,
      slug: `vip-ads-${runId}`,
      token: bot.token,
      fake,
      sandbox,
      inbox,
      groupChatId: GROUP_CHAT_ID,
    };
    const outcomes: BuyerOutcome[] = [];
    const concurrency = options.concurrency ?? 25;
    let next = 0;
    const base = 5_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;
    const worker = async () => {
      while (next < options.buyers && options.signal?.aborted !== true) {
        const i = next++;
        const tracked = i % 20 !== 7; // a few never clicked an ad
        outcomes.push(await runBuyer(ctx, base + i, personaOf(i), tracked));
        options.onProgress?.(outcomes.length, options.buyers);
      }
    };
    await Promise.race([
      Promise.all(Array.from({ length: Math.min(concurrency, options.buyers) }, worker)),
      interrupted,
    ]);

    // Let the outbox drain: effects, then conversions to the fake Graph API.
    await Promise.race([target.settle(60_000), interrupted]);
    // Webhook → committed, as Telegram sees it: the round trip of each accepted webhook POST.
    const latencies = fake.deliveries
      .filter((d) => d.token === bot.token && typeof d.status === 'number' && d.status < 300)
      .map((d) => d.ms);
    const result: DemoReport = {
      ...(await report(
        app.db.orm,
        bot.id,
        outcomes,
        graph.events.get(PIXEL.pixel_id) ?? [],
        latencies,
        started,
      )),
      workers: target.workers,
      webhooks: latencies.length,
    };
    // Not raced with Ctrl-C: a serving caller resolves on its own signal, and the run cleans up as usual.
    if (options.whileServing !== undefined)
      await options.whileServing({
        url: target.url,
        adminToken: env['BOTFLOW_ADMIN_TOKEN']!.trim(),
        botId: bot.id,
        flowId: flow.id,
        report: result,
      });
    return result;
  } finally {
    inbox.close();
    // Interrupted: the stand-ins first, so buyers' webhook pushes stop before botflow drains (their
    // connections would hold its HTTP close for seconds); what is left in the outbox is removed below.
    const standIns = () => Promise.all([fake.close(), sandbox.close(), graph.close()]);
    if (options.signal?.aborted === true) await standIns();
    await target.close();
    if (options.signal?.aborted !== true) await standIns();
    if (options.keep !== true)
      await removeDemoData(
        { databaseUrl: app.config.databaseUrl, redisUrl: app.config.redisUrl },
        { botId: bot.id, pixelId: PIXEL.pixel_id, redisPrefix: target.redisPrefix },
      );
  }
}

async function report(
  orm: Parameters<typeof createSql>[0],
  botId: string,
  outcomes: BuyerOutcome[],
  events: Array<Record<string, unknown>>,
  latencies: number[],
  started: number,
): Promise<Omit<DemoReport, 'workers' | 'webhooks'>> {
  const sql = createSql(orm);
  const users = outcomes.map((o) => String(o.userId));
  const payments = await sql<{
    order_id: string;
    user_id: string;
    status: string;
    gateway_charge_id: string | null;
  }>(
    `select order_id, user_id::text, status, gateway_charge_id from payments where bot_id = $1 and user_id = any($2::bigint[])`,
    [botId, users],
  );
  const grants = await sql<{ order_id: string }>(
    `select order_id from access_grants where bot_id = $1 and user_id = any($2::bigint[]) and status in ('granted', 'expired')`,
    [botId, users],
  );
  const granted = new Set(grants.map((g) => g.order_id));
  const purchases = events.filter((e) => e['event_name'] === 'Purchase');
  const byOrder = new Map<string, Array<Record<string, unknown>>>();
  for (const e of purchases) {
    const order = String((e['custom_data'] as Record<string, unknown> | undefined)?.['order_id'] ?? '');
    byOrder.set(order, [...(byOrder.get(order) ?? []), e]);
  }
  const paid = payments.filter((p) => p.status === 'paid');
  const trackedUsers = new Set(outcomes.filter((o) => o.tracked).map((o) => String(o.userId)));
  const userData = (e: Record<string, unknown>) => (e['user_data'] ?? {}) as Record<string, unknown>;
  const paidTracked = paid.filter((p) => trackedUsers.has(p.user_id));
  const trackedEvents = paidTracked.flatMap((p) => byOrder.get(p.order_id) ?? []);
  const hasClick = (e: Record<string, unknown>) =>
    Boolean(
      userData(e)['fbc'] &&
      userData(e)['fbp'] &&
      userData(e)['client_ip_address'] &&
      userData(e)['client_user_agent'],
    );
  const errors = outcomes.filter((o) => o.error !== null);
  const sorted = [...latencies].sort((a, b) => a - b);
  const lost = paid.filter((p) => (byOrder.get(p.order_id) ?? []).length === 0).length;
  const duplicates = [...byOrder.values()].reduce((n, list) => n + Math.max(0, list.length - 1), 0);
  const withoutAccess = paid.filter((p) => !granted.has(p.order_id)).length;
  const missingClick = trackedEvents.filter((e) => !hasClick(e)).length;
  // Every demo buyer answers the e-mail question, so every Purchase must carry em.
  const withEm = purchases.filter((e) => userData(e)['em']).length;
  return {
    ok:
      lost === 0 &&
      duplicates === 0 &&
      withoutAccess === 0 &&
      missingClick === 0 &&
      withEm === purchases.length &&
      errors.length === 0,
    buyers: outcomes.length,
    clicks: outcomes.filter((o) => o.clicked).length,
    starts: outcomes.filter((o) => o.started).length,
    charges: payments.filter((p) => p.gateway_charge_id !== null).length,
    paid: paid.length,
    expired: payments.filter((p) => p.status === 'expired').length,
    access_granted: grants.length,
    joined: outcomes.filter((o) => o.joined).length,
    purchase_events_sent: purchases.length,
    purchase_events_with_fbc: purchases.filter((e) => userData(e)['fbc']).length,
    purchase_events_with_fbp: purchases.filter((e) => userData(e)['fbp']).length,
    purchase_events_with_ip_ua: purchases.filter(
      (e) => userData(e)['client_ip_address'] && userData(e)['client_user_agent'],
    ).length,
    purchase_events_with_em: withEm,
    purchase_events_with_ph: purchases.filter((e) => userData(e)['ph']).length,
    purchases_from_tracked_clicks: trackedEvents.length,
    tracked_purchases_missing_click_data: missingClick,
    untracked_purchases_sent: purchases.length - trackedEvents.length,
    duplicate_events: duplicates,
    lost_events: lost,
    paid_without_access: withoutAccess,
    errors: errors.length,
    error_samples: errors.slice(0, 5).map((o) => `${o.persona} ${o.userId}: ${o.error}`),
    p50_ms: Math.round(percentile(sorted, 50) * 100) / 100,
    p99_ms: Math.round(percentile(sorted, 99) * 100) / 100,
    duration_ms: Date.now() - started,
  };
}
