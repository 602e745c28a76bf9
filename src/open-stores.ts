/**
 * The stores one botflow process works on: the conversation store, whose group commit writes the
 * records of payments, tracking and step counts (their writers registered here), the flows with their
 * compiled cache kept fresh across processes by the flow change bus (and the publisher that announces
 * a new version on it), and the effects outbox, whose done-marks ride the next group commit.
 */
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createConversationStore, type PostgresConversationStore } from './db/conversation-store.ts';
import { createEffectOutbox, type PostgresEffectOutbox } from './db/effect-outbox.ts';
import { createFlowRepository, type FlowRepository } from './db/flow-repository.ts';
import type { DatabaseHandle } from './db/open-database.ts';
import { STEP_COUNT_WRITER } from './db/step-count-writer.ts';
import { PAYMENT_RECORD_WRITERS } from './payments/payment-record-writers.ts';
import type { FlowCompiler } from './runtime/compile-pool.ts';
import { type CachedFlowSource, createFlowSource } from './runtime/flow-source.ts';
import { createFlowPublisher } from './runtime/publish-flow.ts';
import {
  createMemoryFlowChangeBus,
  createRedisFlowChangeBus,
  type FlowChangeBus,
} from './stores/flow-change-bus.ts';
import { TRACKING_RECORD_WRITERS } from './tracking/tracking-record-writers.ts';

/**
 * How long done-marks wait for a group commit to ride before they are recorded alone: long enough
 * that under load (commits batched and lingering) almost all ride one; an effect whose mark a crash
 * loses runs again, as any effect not yet marked does.
 */
const DONE_MARK_LINGER_MS = 200;

/** The opened stores. */
export interface Stores {
  store: PostgresConversationStore;
  flows: FlowRepository;
  source: CachedFlowSource;
  bus: FlowChangeBus;
  outbox: PostgresEffectOutbox;
  /** Validates, compiles and publishes a flow for a bot; returns the new version. */
  publishFlow(botId: string, definition: unknown): Promise<number>;
}

/** Opens the stores over `db` (the bus on Redis when configured, else in memory) and subscribes the cache to the bus. */
export async function openStores(options: {
  db: DatabaseHandle;
  compiler: FlowCompiler;
  config: Config;
  redisPrefix: string;
  now: () => number;
  logger: Logger;
}): Promise<Stores> {
  const { db, config, now } = options;
  const store = createConversationStore(db.orm, {
    recordWriters: [...PAYMENT_RECORD_WRITERS, ...TRACKING_RECORD_WRITERS, STEP_COUNT_WRITER],
  });
  const flows = createFlowRepository(db.orm);
  const source = createFlowSource(
    flows,
    options.compiler,
    config.redisUrl === undefined ? {} : { latestTtlMs: 5000, now },
  );
  const bus =
    config.redisUrl === undefined
      ? createMemoryFlowChangeBus()
      : createRedisFlowChangeBus({ url: config.redisUrl, prefix: options.redisPrefix });
  await bus.subscribe((botId) => source.invalidate(botId));
  const outbox = createEffectOutbox(db.orm, {
    rideCommit: (keys) => store.markDoneWithCommit(keys, DONE_MARK_LINGER_MS),
  });
  const publishFlow = createFlowPublisher({
    compiler: options.compiler,
    flows,
    invalidate: (botId) => source.invalidate(botId),
    broadcast: (botId) => bus.publish(botId),
    logger: options.logger,
  });
  return { store, flows, source, bus, outbox, publishFlow };
}
