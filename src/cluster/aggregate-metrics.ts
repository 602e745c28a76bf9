/**
 * Cluster-wide `/metrics`: every worker shares one port, so whichever worker Prometheus reaches asks
 * the primary, which collects each live worker's registry as JSON and sums them with prom-client's
 * AggregatorRegistry. A worker that does not answer in time is left out rather than blocking the scrape.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { ToWorker } from './messages.ts';

type Parts = Array<MetricObjectWithValues<MetricValue<string>>[]>;

/** The primary's side of metric aggregation. */
export interface MetricsAggregator {
  /** A worker asked for the cluster's metrics. */
  request(fromSlot: number, fromId: number): void;
  /** A worker answered a collection round. */
  part(slot: number, id: number, metrics: unknown[]): void;
  /** A worker died: stop waiting for it. */
  forget(slot: number): void;
}

/** Creates the aggregator over the primary's live workers. */
export function createMetricsAggregator(options: {
  live(): Iterable<number>;
  send(slot: number, message: ToWorker): void;
  timeoutMs?: number;
}): MetricsAggregator {
  const rounds = new Map<
    number,
    { from: number; fromId: number; waiting: Set<number>; parts: Parts; timer: NodeJS.Timeout }
  >();
  let nextId = 1;

  const finish = (id: number) => {
    const round = rounds.get(id);
    if (round === undefined) return;
    rounds.delete(id);
    clearTimeout(round.timer);
    const registry = AggregatorRegistry.aggregate(round.parts);
    void registry.metrics().then(
      (text) => options.send(round.from, { kind: 'metrics-reply', id: round.fromId, text }),
      () => options.send(round.from, { kind: 'metrics-reply', id: round.fromId, text: '' }),
    );
  };

  return {
    request(fromSlot, fromId) {
      const id = nextId++;
      const waiting = new Set(options.live());
      const timer = setTimeout(() => finish(id), options.timeoutMs ?? 2000);
      rounds.set(id, { from: fromSlot, fromId, waiting, parts: [], timer });
      for (const slot of waiting) options.send(slot, { kind: 'metrics-collect', id });
      if (waiting.size === 0) finish(id);
    },
    part(slot, id, metrics) {
      const round = rounds.get(id);
      if (round === undefined || !round.waiting.delete(slot)) return;
      round.parts.push(metrics as Parts[number]);
      if (round.waiting.size === 0) finish(id);
    },
    forget(slot) {
      for (const [id, round] of rounds)
        if (round.waiting.delete(slot) && round.waiting.size === 0) finish(id);
    },
  };
}
