import { migrateWhenReachable } from '../app/connections';
import { startSystem } from '../app/system';
import type { Config } from '../config/config';
import { ensureClickHouseDatabase } from '../infra/clickhouse/clickhouse';
import { createLogger } from '../shared/logger';

/** `billing-ledger migrate`: the PostgreSQL schema (waiting a little for the server) and the ClickHouse database. */
export async function migrate(config: Config): Promise<void> {
  await migrateWhenReachable(config, createLogger(config.LOG_LEVEL));
  await ensureClickHouseDatabase(config.CLICKHOUSE_URL, {
    requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
  });
  process.stdout.write('migrations applied\n');
}

export interface StartOptions {
  gateway: boolean;
  workers: boolean;
  /** `--dev-memory-store`: accept EVENT_STORE=memory (nothing survives a restart). */
  devMemoryStore?: boolean;
}

/** Exit code for a configuration `start` refuses to run with (the same as a bad variable). */
export const REFUSED_EXIT_CODE = 2;

/**
 * Why `start` must not run with this configuration, or null. The in-memory event store loses
 * every acknowledged webhook's events on restart: only for development, and only when asked for.
 */
export function refusalOf(
  config: Config,
  options: Pick<StartOptions, 'devMemoryStore'>,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  if (config.EVENT_STORE !== 'memory') return null;
  if (options.devMemoryStore || env.BILLING_LEDGER_DEV === '1') return null;
  return [
    'EVENT_STORE=memory keeps the event log in this process only: every webhook acknowledged to',
    'Stripe would vanish on restart. Use EVENT_STORE=postgres (or eventstoredb), or, for',
    'development only, pass --dev-memory-store or set BILLING_LEDGER_DEV=1.',
  ].join('\n');
}

/**
 * `billing-ledger start`: runs until SIGINT/SIGTERM, then stops gracefully within
 * SHUTDOWN_TIMEOUT_MS (stop accepting, drain in-flight requests, stop the workers, close the
 * pools). A second signal exits at once.
 */
export async function start(config: Config, options: StartOptions): Promise<void> {
  const refusal = refusalOf(config, options);
  if (refusal) {
    process.stderr.write(`billing-ledger: refusing to start.\n${refusal}\n`);
    process.exit(REFUSED_EXIT_CODE);
  }
  const logger = createLogger(config.LOG_LEVEL);
  if (config.EVENT_STORE === 'memory')
    logger.warn('EVENT_STORE=memory (development): the event log is lost when this process stops');
  const system = await startSystem(config, { gateway: options.gateway, workers: options.workers, logger });
  logger.info({ url: system.url }, 'billing-ledger started');

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    const deadlineMs = config.SHUTDOWN_TIMEOUT_MS;
    logger.info({ signal, deadlineMs }, 'stopping (send the signal again to exit at once)');
    // Whatever stop() does, the process ends shortly after the deadline.
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown deadline passed: exiting');
      process.exit(1);
    }, deadlineMs + 2_000).unref();
    void system.stop(deadlineMs).then(
      (clean) => {
        logger.info({ clean }, 'stopped');
        process.exit(clean ? 0 : 1);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
