import type { RequestHandler, Router } from 'express';
import express from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    help: 'Bus messages that could not be parsed, by consumer',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
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
