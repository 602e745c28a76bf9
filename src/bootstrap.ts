/**
 * Starts botflow in-process and returns handles, so the CLI, tests and benchmarks run the real thing:
 * the database (Postgres, or embedded PGlite), the flow compiler, the conversation host with its group
 * commit, the effect runner and the durable timer poller. One worker owns every shard here; the
 * cluster layer runs one of these per worker with its own shards.
 */
import { SHARD_COUNT } from './cluster/shard.ts';
import { type Config, loadConfig } from './config.ts';
import { createConversationStore, type PostgresConversationStore } from './db/conversation-store.ts';
import { createEffectOutbox } from './db/effect-outbox.ts';
import { createFlowRepository, type FlowRepository } from './db/flow-repository.ts';
import { type DatabaseHandle, openDatabase } from './db/open-database.ts';
import { createSql } from './db/sql-client.ts';
import { BotflowError } from './errors.ts';
import type { FlowEvent } from './flow/types.ts';
import { createFlowCompiler, type FlowCompiler } from './runtime/compile-pool.ts';
import {
  type ConversationHost,
  createConversationHost,
  type DispatchResult,
  type KeyedEffect,
} from './runtime/conversation-host.ts';
import { createEffectRunner, type EffectHandler, type EffectRunner } from './runtime/effect-runner.ts';
import { type CachedFlowSource, createFlowSource } from './runtime/flow-source.ts';
import { startTimerPoller, type TimerPoller } from './runtime/timer-poller.ts';
import {
  createMemoryFlowChangeBus,
  createRedisFlowChangeBus,
  type FlowChangeBus,
} from './stores/flow-change-bus.ts';

export interface BootstrapOptions {
  /** Environment to read the configuration from (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Overrides applied after the environment is read. */
  config?: Partial<Config>;
  now?: () => number;
  /** How effects are executed, by type; effects without a handler are only marked done. */
  effectHandlers?: Partial<Record<KeyedEffect['effect']['type'], EffectHandler>>;
  /** Timer poll interval (ms); 0 disables the loop (tests call `timers.pollOnce`). */
  timerIntervalMs?: number;
  /** Actors idle this long leave memory (their state is committed); checked every minute. */
  passivateAfterMs?: number;
  /** Observes committed effects (tests, the demo's report). */
  onCommitted?(effects: KeyedEffect[]): void;
  workerId?: string;
  /** Prefix of every Redis key and channel (tests use a random one). */
  redisPrefix?: string;
}

/** A running botflow. */
export interface BotflowApp {
  config: Config;
  db: DatabaseHandle;
  store: PostgresConversationStore;
  flows: FlowRepository;
  source: CachedFlowSource;
  compiler: FlowCompiler;
  host: ConversationHost;
  effects: EffectRunner;
  timers: TimerPoller;
  /** Sends one event to a conversation and resolves once its result is committed. */
  inject(botId: string, userId: string, event: FlowEvent, inputKey?: string): Promise<DispatchResult>;
  /** Registers a bot (id, username, token); tokens are stored, never logged. */
  addBot(bot: { id: string; username: string; token: string; webhookSecret?: string }): Promise<void>;
  /** Validates, compiles and publishes a flow for a bot; returns the new version. */
  publishFlow(botId: string, definition: unknown): Promise<number>;
  /** Drains mailboxes, commits and effects, then closes everything. */
  close(): Promise<void>;
}

/** Starts botflow. */
export async function bootstrap(options: BootstrapOptions = {}): Promise<BotflowApp> {
  const config: Config = { ...loadConfig(options.env ?? process.env), ...options.config };
  const now = options.now ?? Date.now;
  const workerId = options.workerId ?? `worker-${process.pid}`;
  const db = await openDatabase({
    ...(config.databaseUrl === undefined ? {} : { url: config.databaseUrl }),
    dataDir: config.dataDir,
  });
  const compiler = createFlowCompiler();
  try {
    const store = createConversationStore(db.orm);
    const flows = createFlowRepository(db.orm);
    const source = createFlowSource(
      flows,
      compiler,
      config.redisUrl === undefined ? {} : { latestTtlMs: 5000, now },
    );
    const bus: FlowChangeBus =
      config.redisUrl === undefined
        ? createMemoryFlowChangeBus()
        : createRedisFlowChangeBus({ url: config.redisUrl, prefix: options.redisPrefix ?? 'bf' });
    await bus.subscribe((botId) => source.invalidate(botId));
    const outbox = createEffectOutbox(db.orm);
    const sql = createSql(db.orm);

    // One worker: own every shard, fencing out whatever owned them before.
    const epochs = new Map<number, number>();
    const shards = Array.from({ length: SHARD_COUNT }, (_, i) => i);
    for (const [shard, epoch] of await store.claimShards(shards, workerId)) epochs.set(shard, epoch);

    const host = createConversationHost({
      store,
      flows: source,
      now,
      epochOf: (shard) => {
        const epoch = epochs.get(shard);
        if (epoch === undefined) throw new BotflowError('STALE_OWNER', `shard ${shard} is not owned here`);
        return epoch;
      },
      onCommitted(committed) {
        options.onCommitted?.(committed);
        // Commits only happen after start-up, when `effects` exists.
        effects.enqueue(committed);
      },
    });
    const effects: EffectRunner = createEffectRunner({
      handlers: options.effectHandlers ?? {},
      outbox,
      dispatch: (input) => host.dispatch(input),
      now,
    });
    effects.enqueue(await outbox.pending(now(), 10_000));
    const timers = startTimerPoller({
      store,
      host,
      shards: () => shards,
      now,
      intervalMs: options.timerIntervalMs ?? 1000,
    });

    const passivateAfter = options.passivateAfterMs ?? 10 * 60_000;
    const sweeper = setInterval(() => host.passivateIdle(passivateAfter), Math.min(60_000, passivateAfter));
    sweeper.unref();

    return {
      config,
      db,
      store,
      flows,
      source,
      compiler,
      host,
      effects,
      timers,
      inject: (botId, userId, event, inputKey) =>
        host.dispatch({ botId, userId, event, ...(inputKey === undefined ? {} : { inputKey }) }),
      async addBot(bot) {
        await sql(
          `insert into bots (id, username, token, webhook_secret) values ($1, $2, $3, $4)
           on conflict (id) do update set username = excluded.username, token = excluded.token`,
          [bot.id, bot.username, bot.token, bot.webhookSecret ?? ''],
        );
      },
      async publishFlow(botId, definition) {
        const id = (definition as { id?: unknown } | null)?.id;
        if (typeof id !== 'string') throw new BotflowError('INVALID_FLOW', 'the flow has no id');
        const compiled = await compiler.check(definition);
        await flows.saveDraft({ id, botId, name: compiled.flow.name ?? id, draft: definition });
        const published = await flows.publish(id, definition, compiled.config);
        source.invalidate(botId);
        // The version is committed; other workers learn of it now, or within the cache TTL if Redis is down.
        await bus.publish(botId).catch(() => {});
        return published.version;
      },
      async close() {
        clearInterval(sweeper);
        timers.stop();
        await host.drain();
        await effects.idle();
        effects.stop();
        await compiler.close();
        await bus.close();
        await db.close();
      },
    };
  } catch (error) {
    await compiler.close();
    await db.close();
    throw error;
  }
}
