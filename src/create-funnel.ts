/**
 * Wires the funnel's edges around the conversation runtime: Telegram (webhook, clients, effects),
 * PIX (gateways per bot, charges, webhooks, reconciliation), tracking (redirect, /start binding,
 * resolution for charges) and the Meta outbox, plus the periodic jobs that keep money and access
 * honest. `bootstrap` calls it; each piece is small and tested on its own.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Router } from '@koa/router';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createBotSettingsCache } from './db/cache-bot-settings.ts';
import { createBindingReader } from './db/read-bindings.ts';
import { readBuyerFacts } from './db/read-buyer-facts.ts';
import { createPageViewRecorder } from './meta/record-page-view.ts';
import { createGatewaysByBot } from './payments/gateways-by-bot.ts';
import { createBuyerClickResolver } from './stores/resolve-buyer-click.ts';
import { createBindingMemory, type CommittedInput } from './tracking/remember-bindings.ts';
import { createAccessRepository, type AccessRepository } from './db/access-repository.ts';
import { type BotSettings, createBotRepository } from './db/bot-repository.ts';
import { createConversionOutbox, type ConversionOutbox } from './db/conversion-outbox.ts';
import { createPaymentRepository, type PaymentRepository } from './db/payment-repository.ts';
import { createSql } from './db/sql-client.ts';
import { createTrackingLinkRepository, type TrackingLinkRepository } from './db/tracking-link-repository.ts';
import { createSecretBox } from './db/secret-box.ts';
import { createConsoleDataRouter } from './http/console-data-routes.ts';
import { createConsoleRouter } from './http/console-routes.ts';
import { createConsoleSessions } from './http/console-session.ts';
import { createConversionStatsRouter } from './http/conversion-stats-routes.ts';
import { readConversionStats } from './db/conversion-stats.ts';
import { createPaymentRouter } from './http/payment-routes.ts';
import { createTelegramWebhook, type TelegramWebhook } from './http/telegram-routes.ts';
import { createTrackingRedirect, type TrackingRedirect } from './http/tracking-routes.ts';
import type { Metrics } from './observability/metrics.ts';
import { createPaymentService, type PaymentService } from './payments/payment-service.ts';
import { createQrImages, type QrRenderer } from './payments/qr-images.ts';
import type { Dispatch, DispatchResult } from './runtime/conversation-host.ts';
import type { EffectHandler, GiveUpEvent } from './runtime/effect-runner.ts';
import type { FlowSource } from './runtime/ports.ts';
import { createMemoryFloodGate, createRedisFloodGate, type FloodGate } from './stores/flood-gate.ts';
import {
  createMemoryTrackingStore,
  createRedisTrackingStore,
  type TrackingStore,
} from './stores/tracking-store.ts';
import { createAccessEffects } from './bot/access-effects.ts';
import { createAccessRemoval } from './bot/access-removal.ts';
import { createBotApis, type BotApis } from './bot/bot-apis.ts';
import { createUpdateHandler, type UpdateHandler } from './bot/handle-update.ts';
import { createTelegramEffects } from './bot/telegram-effects.ts';
import { createJobs, type JobsOutcome } from './jobs/run-jobs.ts';
import type { ConsoleData } from './http/console-data-routes.ts';
import { listPublishedVersions } from './db/list-published-versions.ts';
import { readBuyer } from './db/read-buyer.ts';
import { readCampaigns } from './db/read-campaigns.ts';
import { readFunnel } from './db/read-funnel.ts';
import { readOverview } from './db/read-overview.ts';
import { readStepCounts } from './db/read-step-counts.ts';

export interface FunnelOptions {
  config: Config;
  orm: MikroORM;
  dispatch(input: Dispatch): Promise<DispatchResult>;
  flows: FlowSource;
  logger: Logger;
  metrics: Metrics;
  now(): number;
  redisPrefix: string;
  /** The base URL gateways post webhooks to (public URL, else the server's own). */
  baseUrl(): string;
  owns(botId: string, userId: string): boolean;
  /** The shards this worker owns. */
  ownedShards(): number[];
  /** The epoch this worker holds the conversation's shard at, or null when it does not own it. */
  epochOf(botId: string, userId: string): number | null;
}

/** The funnel's edges. */
export interface Funnel {
  bots: ReturnType<typeof createBotRepository>;
  links: TrackingLinkRepository;
  payments: PaymentRepository;
  access: AccessRepository;
  conversions: ConversionOutbox;
  tracking: TrackingStore;
  apis: BotApis;
  paymentService: PaymentService;
  /** The QR rendering pool (closed with the funnel). */
  qr: QrRenderer;
  handleUpdate: UpdateHandler;
  effectHandlers: Record<string, EffectHandler>;
  /** Per effect type, the event a given-up effect sends its conversation. */
  effectGiveUpEvents: Record<string, GiveUpEvent>;
  /** `POST /telegram/:botId` and `GET /r/:slug`, served by the hot routes. */
  telegramWebhook: TelegramWebhook;
  trackingRedirect: TrackingRedirect;
  /** The funnel's other routes (payments, the console, conversion stats), in the Koa app. */
  routers: Router[];
  /** Bot settings, cached for a few seconds (the webhook path reads them per update). */
  settingsOf(botId: string): Promise<BotSettings | null>;
  forgetBot(botId: string): void;
  /** Learns what a committed input wrote that the funnel keeps in memory (the buyer's binding). */
  rememberCommitted(input: CommittedInput): void;
  /** One round of each periodic job; returns what each did. */
  runJobs(): Promise<JobsOutcome>;
  close(): Promise<void>;
}

const SETTINGS_TTL_MS = 5000;

/** Creates the funnel edges. */
export function createFunnel(options: FunnelOptions): Funnel {
  const { config, orm, logger, metrics, now } = options;
  const bots = createBotRepository(orm, createSecretBox(config.secretKey));
  const links = createTrackingLinkRepository(orm, { cacheMs: SETTINGS_TTL_MS });
  const payments = createPaymentRepository(orm);
  const access = createAccessRepository(orm);
  const conversions = createConversionOutbox(orm);
  const sql = createSql(orm);
  const tracking: TrackingStore =
    config.redisUrl === undefined
      ? createMemoryTrackingStore(now)
      : createRedisTrackingStore({ url: config.redisUrl, prefix: options.redisPrefix });
  const floodGate: FloodGate =
    config.redisUrl === undefined
      ? createMemoryFloodGate()
      : createRedisFloodGate({ url: config.redisUrl, prefix: options.redisPrefix, now });

  const settings = createBotSettingsCache({
    read: (botId) => bots.settings(botId),
    now,
    ttlMs: SETTINGS_TTL_MS,
  });
  const { settingsOf, pixelOf } = settings;
  /** A tracking link's public URL: the page of its `website` events. */
  const linkUrl = (slug: string) => `${config.publicUrl ?? options.baseUrl()}/r/${encodeURIComponent(slug)}`;
  const qr = createQrImages();
  const gateways = createGatewaysByBot({ settingsOf, qr, now });

  const apis = createBotApis({
    apiRoot: config.telegramApiRoot,
    tokenOf: async (botId) => (await settingsOf(botId))?.token ?? null,
    floodGate,
    now,
    onFloodWait(botId, seconds) {
      metrics.floodWaits.inc({ bot_id: botId });
      logger.warn({ bot_id: botId, retry_after: seconds }, 'telegram flood wait');
    },
  });

  const forgetBot = (botId: string) => {
    settings.forget(botId);
    gateways.forget(botId);
    apis.forget(botId);
    links.forgetBot(botId);
  };
  // Bindings this owner committed are known without a read; others are read (batched per tick).
  const bindings = createBindingMemory({ read: createBindingReader(sql), epochOf: options.epochOf });
  const resolveFor = createBuyerClickResolver({
    bindingOf: (botId, userId) => bindings.bindingOf(botId, userId),
    tracking,
    onCharge: (source) => metrics.trackingResolution.inc({ source }),
  });
  const buyerOf = (botId: string, userId: string) => readBuyerFacts(sql, botId, userId);

  const accessRemoval = createAccessRemoval({
    access,
    dispatch: options.dispatch,
    owns: options.owns,
    now,
    logger,
  });

  const paymentService = createPaymentService({
    payments,
    gatewayOf: gateways.gatewayOf,
    dispatch: options.dispatch,
    resolveTracking: resolveFor,
    pixelOf,
    buyerOf,
    linkUrl,
    webhookUrl: (botId) =>
      `${config.publicUrl ?? options.baseUrl()}/payments/${encodeURIComponent(botId)}/webhook`,
    now,
    logger,
    owns: options.owns,
    ownedShards: options.ownedShards,
    revokeAccess: (payment) => accessRemoval.revoke(payment.orderId),
  });

  const handleUpdate = createUpdateHandler({
    dispatch: options.dispatch,
    flows: options.flows,
    tracking,
    apis,
    access,
    pixelOf,
    buyerOf,
    linkUrl,
    trackingTtlSeconds: config.trackingTtlDays * 86400,
    now,
    logger,
  });

  const telegramEffects = createTelegramEffects({
    apis,
    payments,
    access,
    qr,
    now,
    joinRequestsOf: async (botId) => (await settingsOf(botId))?.joinRequests ?? true,
  });

  const sessions =
    config.adminToken === undefined
      ? undefined
      : createConsoleSessions({ adminToken: config.adminToken, ttlSeconds: 12 * 3600, now });
  const since = (days: number) => new Date(now() - days * 86_400_000);
  const consoleData: ConsoleData = {
    overview: ({ days, botId }) =>
      readOverview(sql, { days, now: now(), ...(botId === undefined ? {} : { botId }) }),
    campaigns: ({ days, botId }) =>
      readCampaigns(sql, { since: since(days), ...(botId === undefined ? {} : { botId }) }),
    buyer: (botId, userId) => readBuyer(sql, botId, userId),
    flowVersions: () => listPublishedVersions(sql),
    funnel: ({ flowId, version, days }) =>
      readFunnel(sql, { flowId, version, since: since(days) }, (f, v, from) =>
        readStepCounts(sql, f, v, from),
      ),
  };
  const telegramWebhook = createTelegramWebhook({
    secretOf: async (botId) => (await settingsOf(botId))?.webhookSecret ?? null,
    handle: handleUpdate,
  });
  const pageViews = createPageViewRecorder({ pixelOf, outbox: conversions, linkUrl, logger });
  const trackingRedirect = createTrackingRedirect({
    linkOf: (slug) => links.get(slug),
    tracking,
    ttlSeconds: config.trackingTtlDays * 86400,
    trustProxy: config.trustProxy,
    now,
    pixelIdOf: async (botId) => (await pixelOf(botId).catch(() => null))?.pixel_id ?? null,
    onClickLost(botId, error) {
      metrics.trackingResolution.inc({ source: 'click_lost' });
      logger.warn({ bot_id: botId, code: error.code }, 'click not stored; buyer sent to the bot without it');
    },
    onClick: pageViews.record,
  });
  const routers = [
    createConversionStatsRouter({ stats: (botId) => readConversionStats(sql, botId) }, config.adminToken),
    createConsoleDataRouter(consoleData, config.adminToken, sessions?.check),
    createConsoleRouter({ adminToken: config.adminToken, sessions }),
    createPaymentRouter({ handleWebhook: (botId, request) => paymentService.handleWebhook(botId, request) }),
  ];

  const runJobs = createJobs({
    reconcile: () => paymentService.reconcile(),
    expireAccess: () => accessRemoval.expireDue(),
    revokeRefundedAccess: () => accessRemoval.revokeRefunded(),
    conversions,
    pixelSettings: async (pixelId, botId) => (await bots.settingsByPixel(pixelId, botId))?.pixel ?? null,
    graphUrl: config.metaGraphUrl,
    retentionDays: config.retentionDays,
    sql,
    metrics,
    logger,
    now,
  });

  return {
    bots,
    links,
    payments,
    access,
    conversions,
    tracking,
    apis,
    paymentService,
    qr,
    handleUpdate,
    effectHandlers: { ...telegramEffects, ...createAccessEffects(apis), ...paymentService.handlers },
    effectGiveUpEvents: paymentService.giveUpEvents,
    telegramWebhook,
    trackingRedirect,
    routers,
    settingsOf,
    forgetBot,
    rememberCommitted: (input) => bindings.remember(input),
    runJobs,
    async close() {
      pageViews.close();
      await qr.close();
      await tracking.close();
      await floodGate.close();
      await apis.close();
      await gateways.close();
    },
  };
}
