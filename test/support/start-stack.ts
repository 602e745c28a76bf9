/**
 * Test support: botflow bootstrapped on a fresh Postgres database and a random Redis prefix, with the
 * local stand-ins on loopback (fake Bot API, sandbox PIX gateway, fake Graph API) and one bot
 * registered and running a flow. The funnel harnesses build their helpers on it.
 */
import { randomBytes } from 'node:crypto';
import { type BootstrapOptions, type BotflowApp, bootstrap } from '../../src/bootstrap.ts';
import type { GatewaySettings, PixelSettings } from '../../src/db/bot-repository.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { type FakeGraphApi, startFakeGraphApi } from '../../src/sim/fake-graph-api.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { createFreshDatabase } from '../db/fresh-database.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';

/** A running stack. */
export interface Stack {
  app: BotflowApp;
  fake: FakeBotApi;
  sandbox: SandboxGateway;
  graph: FakeGraphApi;
  /** The bot's Telegram token at the fake Bot API. */
  token: string;
  /** The published flow's version. */
  version: number;
  /** The Redis key prefix of this run. */
  prefix: string;
  /** The bot's webhook secret (what Telegram sends in its header). */
  secret: string;
  close(): Promise<void>;
}

/** Starts the stack with one bot `botId` (token id `botNumber`) running `flow`. */
export async function startStack(options: {
  botId: string;
  botNumber: number;
  username: string;
  flow: unknown;
  pixel: PixelSettings;
  /** Further Meta access tokens the fake Graph API accepts (other bots' pixels). */
  graphTokens?: string[];
  adminToken: string;
  /** Default: the stack's sandbox. */
  gateway?: GatewaySettings;
  joinRequests?: boolean;
  config?: BootstrapOptions['config'];
  now?: () => number;
}): Promise<Stack> {
  const token = `${options.botNumber}:AAharness-token-for-the-fake-bot-api`;
  const fresh = await createFreshDatabase();
  const fake = await startFakeBotApi({ retryBaseMs: 20 });
  fake.addBot({ token, id: options.botNumber, username: options.username });
  const graph = await startFakeGraphApi({
    tokens: [options.pixel.access_token, ...(options.graphTokens ?? [])],
  });
  const sandbox = await startSandboxGateway({
    apiKey: 'k',
    webhookSecret: 'sandbox-secret',
    retryBaseMs: 20,
  });
  const prefix = `bf-test-${randomBytes(4).toString('hex')}`;
  const app = await bootstrap({
    env: {
      DATABASE_URL: fresh.url,
      REDIS_URL: REDIS,
      LOG_LEVEL: 'silent',
      BOTFLOW_ADMIN_TOKEN: options.adminToken,
    },
    config: { telegramApiRoot: fake.url, metaGraphUrl: graph.url, ...options.config },
    ...(options.now === undefined ? {} : { now: options.now }),
    http: { port: 0 },
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    redisPrefix: prefix,
  });
  await app.addBot({
    id: options.botId,
    token,
    gateway: options.gateway ?? {
      kind: 'sandbox',
      api_base: sandbox.url,
      api_key: 'k',
      webhook_secret: 'sandbox-secret',
    },
    pixel: options.pixel,
    ...(options.joinRequests === undefined ? {} : { joinRequests: options.joinRequests }),
  });
  const version = await app.publishFlow(options.botId, options.flow);
  const secret = (await app.funnel.settingsOf(options.botId))!.webhookSecret;
  return {
    app,
    fake,
    sandbox,
    graph,
    token,
    version,
    prefix,
    secret,
    async close() {
      await app.close();
      await Promise.all([fake.close(), sandbox.close(), graph.close()]);
      await fresh.drop();
    },
  };
}
