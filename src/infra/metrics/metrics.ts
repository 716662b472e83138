import type { RequestHandler, Router } from 'express';
import express from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConsumerLag } from '../../bus/kafka-bus';
import { withTimeout } from '../../shared/async';

/** What the consumer runtime shows at scrape time. */
export interface ConsumerSource {
  /** Lag per group and partition; may be slow or fail (Kafka down): cached, never fails a scrape. */
  lag(): Promise<ConsumerLag[]>;
  /** Current state of each consumer, by name. */
  states(): Record<string, string>;
}

export const CONSUMER_STATES = [
  'starting',
  'running',
  'retrying',
  'rebuilding',
  'crashed',
  'stopped',
] as const;
const LAG_CACHE_MS = 1000;
const LAG_TIMEOUT_MS = 2000;

/**
 * What the system counts, in Prometheus form (prom-client kept behind this one module).
 * Names follow Prometheus conventions: `billing_ledger_<what>_<unit>`.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly webhooks = new Counter({
    name: 'billing_ledger_webhooks_total',
    help: 'Stripe webhook deliveries by result (stored, duplicate, rejected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly inbox = new Counter({
    name: 'billing_ledger_inbox_events_total',
    help: 'Inbox entries handled, by outcome (processed, unhandled, invalid, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly relayed = new Counter({
    name: 'billing_ledger_relay_events_total',
    help: 'Events published from the log to the bus',
    registers: [this.registry],
  });

  readonly projected = new Counter({
    name: 'billing_ledger_projection_events_total',
    help: 'Bus events handed to a read model, by projection',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: 'billing_ledger_dead_letters_total',
    help: 'Bus messages dead-lettered (unparseable, or refused by the read model), by consumer',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });

  readonly consumerBatches = new Counter({
    name: 'billing_ledger_consumer_batches_total',
    help: 'Partition batches a consumer applied and committed, by consumer',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });

  readonly consumerRetries = new Counter({
    name: 'billing_ledger_consumer_retries_total',
    help: 'Batch attempts that failed on infrastructure and were retried, by consumer',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });

  readonly consumerRestarts = new Counter({
    name: 'billing_ledger_consumer_restarts_total',
    help: 'Consumer restarts by consumer and reason (crash, store_lost, kafkajs)',
    labelNames: ['consumer', 'reason'] as const,
    registers: [this.registry],
  });

  private consumers: ConsumerSource | null = null;
  private lagCache: { at: number; value: ConsumerLag[] } | null = null;

  readonly consumerLag = new Gauge({
    name: 'billing_ledger_consumer_lag',
    help: 'Messages not yet consumed, by consumer group and partition (end offset - committed offset)',
    labelNames: ['group', 'partition'] as const,
    registers: [this.registry],
    collect: async () => {
      const lags = await this.currentLag();
      this.consumerLag.reset();
      for (const { group, partition, lag } of lags)
        this.consumerLag.set({ group, partition: String(partition) }, lag);
    },
  });

  readonly consumerState = new Gauge({
    name: 'billing_ledger_consumer_state',
    help: 'State of each consumer: 1 for its current state, 0 for the others',
    labelNames: ['consumer', 'state'] as const,
    registers: [this.registry],
    collect: () => {
      this.consumerState.reset();
      for (const [consumer, current] of Object.entries(this.consumers?.states() ?? {}))
        for (const state of CONSUMER_STATES)
          this.consumerState.set({ consumer, state }, state === current ? 1 : 0);
    },
  });

  readonly http = new Histogram({
    name: 'billing_ledger_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(options: { relayLag?: () => Promise<number> } = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'billing_ledger_' });
    const relayLag = options.relayLag;
    if (relayLag) {
      new Gauge({
        name: 'billing_ledger_relay_lag_events',
        help: 'Events in the log not yet published to the bus',
        registers: [this.registry],
        async collect() {
          this.set(await relayLag());
        },
      });
    }
  }

  /** Shows the consumer runtime's lag and states on the next scrapes. */
  observeConsumers(source: ConsumerSource): void {
    this.consumers = source;
    this.lagCache = null;
  }

  /** The lag at most LAG_CACHE_MS old; when Kafka does not answer, the last value known (or none). */
  private async currentLag(): Promise<ConsumerLag[]> {
    const source = this.consumers;
    if (!source) return [];
    const cached = this.lagCache;
    if (cached && Date.now() - cached.at < LAG_CACHE_MS) return cached.value;
    try {
      const value = await withTimeout(source.lag(), LAG_TIMEOUT_MS);
      this.lagCache = { at: Date.now(), value };
      return value;
    } catch {
      return cached?.value ?? [];
    }
  }

  /** Times every request, labelled by its route pattern (not the raw path, to bound cardinality). */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.http.startTimer();
      res.once('finish', () => {
        const route = (req.route as { path?: string } | undefined)?.path;
        end({
          method: req.method,
          route: route ? `${req.baseUrl}${route}` : 'unmatched',
          status: String(res.statusCode),
        });
      });
      next();
    };
  }

  router(): Router {
    const router = express.Router();
    router.get('/metrics', async (_req, res) => {
      res.setHeader('Content-Type', this.registry.contentType);
      res.send(await this.registry.metrics());
    });
    return router;
  }
}
