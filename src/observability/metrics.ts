/**
 * The Prometheus metrics the runtime updates, on one registry per process (`/metrics`). Counters,
 * gauges and histograms only, so a cluster primary can aggregate worker registries with prom-client's
 * AggregatorRegistry.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The registry and typed handles for each metric. */
export interface Metrics {
  registry: Registry;
  events: Counter<'kind'>;
  transitions: Counter;
  commitBatchSize: Histogram;
  commitLatency: Histogram;
  mailboxDepth: Gauge;
  activeActors: Gauge;
  timersDue: Gauge;
  effectFailures: Counter<'type' | 'final'>;
  trackingResolution: Counter<'source'>;
  httpRequests: Counter<'route' | 'status'>;
  httpDuration: Histogram<'route'>;
  floodWaits: Counter<'bot_id'>;
  jobOutcomes: Counter<'kind'>;
}

/** Creates a fresh registry with botflow's metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    events: new Counter({
      name: 'botflow_events_total',
      help: 'Events dispatched to conversations',
      labelNames: ['kind'],
      registers,
    }),
    transitions: new Counter({ name: 'botflow_transitions_total', help: 'Committed transitions', registers }),
    commitBatchSize: new Histogram({
      name: 'botflow_commit_batch_size',
      help: 'Rows per group commit',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    commitLatency: new Histogram({
      name: 'botflow_commit_latency_seconds',
      help: 'Duration of one group commit',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    mailboxDepth: new Gauge({ name: 'botflow_mailbox_depth', help: 'Events queued in mailboxes', registers }),
    activeActors: new Gauge({
      name: 'botflow_active_actors',
      help: 'Conversations held in memory',
      registers,
    }),
    timersDue: new Gauge({
      name: 'botflow_timers_due',
      help: 'Timers found due by the last poll',
      registers,
    }),
    effectFailures: new Counter({
      name: 'botflow_effect_failures_total',
      help: 'Effect executions that failed',
      labelNames: ['type', 'final'],
      registers,
    }),
    trackingResolution: new Counter({
      name: 'botflow_tracking_resolution_total',
      help: 'Tracking resolutions by winning source',
      labelNames: ['source'],
      registers,
    }),
    httpRequests: new Counter({
      name: 'botflow_http_requests_total',
      help: 'HTTP requests',
      labelNames: ['route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'botflow_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    floodWaits: new Counter({
      name: 'botflow_telegram_flood_waits_total',
      help: 'Telegram 429 answers (flood waits), by bot',
      labelNames: ['bot_id'],
      registers,
    }),
    jobOutcomes: new Counter({
      name: 'botflow_job_outcomes_total',
      help: 'What the periodic jobs did: payments changed by reconciliation, access expired or revoked, conversion events handled, finished rows pruned',
      labelNames: ['kind'],
      registers,
    }),
  };
}
