/**
 * What the runtime's loops report, as metrics and log lines: committed batches and finished inputs of
 * the conversation host, failed effects and unrecorded outcomes of the effect runner, and the store
 * outages the outbox sweeper and the timer poller wait out. One place, so the root only wires them.
 */
import type { Logger } from 'pino';
import type { BotflowError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ConversationHostOptions, Dispatch } from './conversation-host.ts';
import type { EffectRunnerOptions } from './effect-runner.ts';
import type { OutboxSweeperOptions } from './outbox-sweeper.ts';
import type { TimerPollerOptions } from './timer-poller.ts';

export interface RuntimeObserverOptions {
  metrics: Metrics;
  logger: Logger;
  /** The host's current actor count and queued inputs (gauges, set after each batch). */
  hostStats(): { activeActors: number; queued: number };
  /** Also told of every finished input (the demo's latency report). */
  onDispatched?(input: Dispatch, seconds: number, error?: unknown): void;
}

/** The event kind of an input without a flow event (only edge effects, e.g. a join request answered). */
const EDGE_EFFECTS = 'effects';

const codeOf = (error: unknown, fallback: string): string => (error as { code?: string }).code ?? fallback;

/** Creates the observers of each runtime loop, to pass as its options. */
export function createRuntimeObservers(options: RuntimeObserverOptions) {
  const { metrics, logger } = options;
  const host: Pick<ConversationHostOptions, 'onBatch' | 'onDispatched'> = {
    onBatch(size, seconds) {
      metrics.commitBatchSize.observe(size);
      metrics.commitLatency.observe(seconds);
      metrics.transitions.inc(size);
      const stats = options.hostStats();
      metrics.activeActors.set(stats.activeActors);
      metrics.mailboxDepth.set(stats.queued);
    },
    onDispatched(input, result, seconds, error) {
      options.onDispatched?.(input, seconds, error);
      const kind = input.event?.type ?? EDGE_EFFECTS;
      metrics.events.inc({ kind: kind.startsWith('xstate.after') ? 'timer' : kind });
      const fields = {
        bot_id: input.botId,
        user_id: input.userId,
        event: kind,
        step_id: result?.currentStep ?? null,
        duration_ms: Math.round(seconds * 1e5) / 100,
      };
      if (error === undefined)
        logger.debug({ ...fields, applied: result?.applied, restarted: result?.restarted }, 'event');
      else logger.warn({ ...fields, code: (error as BotflowError).code ?? 'INTERNAL' }, 'event failed');
      if (result?.restarted)
        logger.warn(fields, 'conversation state did not resolve against its flow version; restarted');
    },
  };
  const effects: Pick<EffectRunnerOptions, 'onFailure' | 'onMarkFailed' | 'onMarkRecovered'> = {
    onFailure(effect, error, final) {
      metrics.effectFailures.inc({ type: effect.effect.type, final: String(final) });
      logger.warn(
        { bot_id: effect.botId, user_id: effect.userId, effect: effect.effect.type, code: error.code, final },
        'effect failed',
      );
    },
    onMarkFailed(error, unrecorded) {
      logger.warn(
        { code: codeOf(error, 'STORE_UNAVAILABLE'), unrecorded },
        'effect outcomes not recorded; retrying until they are (the effects do not run again)',
      );
    },
    onMarkRecovered: () => logger.info('effect outcomes recorded again'),
  };
  const sweeper: Pick<OutboxSweeperOptions, 'onOutage' | 'onRecovered'> = {
    onOutage: (error) =>
      logger.warn(
        { code: codeOf(error, 'STORE_UNAVAILABLE') },
        'store unavailable: effects wait for it and resume when it answers',
      ),
    onRecovered: () => logger.info('store available again: effects resume'),
  };
  const timers: Pick<TimerPollerOptions, 'onDue' | 'onError' | 'onOutage' | 'onRecovered'> = {
    onDue: (count) => metrics.timersDue.set(count),
    onError: (error) => logger.warn({ err: error }, 'timer poll failed'),
    onOutage: (error) =>
      logger.warn(
        { code: codeOf(error, 'STORE_UNAVAILABLE') },
        'store unavailable: timers fire when it answers',
      ),
    onRecovered: () => logger.info('store available again: timers fire'),
  };
  return { host, effects, sweeper, timers };
}
