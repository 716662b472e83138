import express, { type Router } from 'express';
import { withTimeout } from '../shared/async';

export type DependencyCheck = () => Promise<void>;

export type Readiness = 'ready' | 'degraded';

/** What a background component (inbox worker, relay, a consumer) says about itself. */
export interface ComponentReport {
  status: Readiness;
  /** e.g. `waiting`, `running`, `stopped`, `crashed`; free-form details may follow. */
  state?: string;
  [detail: string]: unknown;
}

export interface HealthOptions {
  /** What webhook intake needs (PostgreSQL): `/ready` is 503 when one of them fails. */
  intake: Record<string, DependencyCheck>;
  /** What the workers need (event store, Redis, Kafka): `/ready/workers` is 503 when one fails. */
  workers?: Record<string, DependencyCheck>;
  /** Reported on both routes, required by neither (e.g. a store no worker uses yet). */
  optional?: Record<string, DependencyCheck>;
  /** Background components by name: a degraded one makes `/ready/workers` 503. */
  components?: () => Record<string, ComponentReport>;
  timeoutMs?: number;
}

interface Probe {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

/**
 * `/health`: the process is alive.
 * `/ready`: webhooks are accepted (PostgreSQL answers); 200 even when workers are degraded.
 * `/ready/workers`: webhooks flow through to the read models (every worker dependency answers and
 * no component is degraded).
 * Both answer the same body: `status` (`ready`, `degraded` or `not_ready`), `components` (every
 * dependency and background component, `ready` or `degraded`) and `dependencies` (probes, `up` or
 * `down`; the shape of earlier releases).
 */
export function healthRouter(options: HealthOptions, timeoutMs = options.timeoutMs ?? 2000): Router {
  const router = express.Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });

  const snapshot = async () => {
    const groups = {
      intake: options.intake,
      workers: options.workers ?? {},
      optional: options.optional ?? {},
    };
    const probed = await Promise.all(
      Object.entries(groups).map(
        async ([group, checks]) =>
          [group, await probeAll(checks, timeoutMs)] as [keyof typeof groups, Record<string, Probe>],
      ),
    );
    const probes = Object.fromEntries(probed) as Record<keyof typeof groups, Record<string, Probe>>;
    const components = safeReports(options.components);
    const intakeUp = allUp(probes.intake);
    const workersUp =
      intakeUp &&
      allUp(probes.workers) &&
      Object.values(components).every((component) => component.status === 'ready');
    const everything = { ...probes.intake, ...probes.workers, ...probes.optional };
    const body = {
      status: !intakeUp ? 'not_ready' : workersUp && allUp(probes.optional) ? 'ready' : 'degraded',
      components: {
        ...Object.fromEntries(
          Object.entries(everything).map(([name, probe]) => [name, asComponent(probe)] as const),
        ),
        ...components,
      },
      dependencies: everything,
    };
    return { intakeUp, workersUp, body };
  };

  router.get('/ready', async (_req, res) => {
    const { intakeUp, body } = await snapshot();
    res.status(intakeUp ? 200 : 503).json(body);
  });
  router.get('/ready/workers', async (_req, res) => {
    const { workersUp, body } = await snapshot();
    res.status(workersUp ? 200 : 503).json(body);
  });
  return router;
}

async function probeAll(
  checks: Record<string, DependencyCheck>,
  timeoutMs: number,
): Promise<Record<string, Probe>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, Probe]> => {
      const started = Date.now();
      try {
        await withTimeout(Promise.resolve().then(check), timeoutMs);
        return [name, { status: 'up', latencyMs: Date.now() - started }];
      } catch (error) {
        return [name, { status: 'down', latencyMs: Date.now() - started, error: (error as Error).message }];
      }
    }),
  );
  return Object.fromEntries(entries);
}

function allUp(probes: Record<string, Probe>): boolean {
  return Object.values(probes).every((probe) => probe.status === 'up');
}

function asComponent(probe: Probe): ComponentReport {
  return probe.status === 'up'
    ? { status: 'ready', latencyMs: probe.latencyMs }
    : { status: 'degraded', latencyMs: probe.latencyMs, error: probe.error };
}

/** A status provider that throws must not take readiness down with it: it reports itself degraded. */
function safeReports(provider: HealthOptions['components']): Record<string, ComponentReport> {
  if (!provider) return {};
  try {
    return provider();
  } catch (error) {
    return { components: { status: 'degraded', error: (error as Error).message } };
  }
}
