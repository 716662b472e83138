import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Config } from '../config/config';
import { createClickHouseClient, type ClickHouseClient } from '../infra/clickhouse/clickhouse';
import { migratePostgres } from '../infra/postgres/migrate';
import { createPool } from '../infra/postgres/pool';
import { backoffDelay, sleep } from '../shared/async';
import type { Logger } from '../shared/logger';

/**
 * Clients for the services, built from the configuration with timeouts and error handlers:
 * none of them waits for its server, and none can crash the process when its server goes away.
 */

/** One pool per job, so a slow audit query or a busy worker never holds webhook intake up. */
export interface Pools {
  /** `POST /webhooks/stripe`: one INSERT per webhook. */
  intake: Pool;
  /** Inbox worker, event store appends, relay checkpoints, consumers' PostgreSQL effects. */
  workers: Pool;
  /** Query API: audit trail, point-in-time folds. */
  reads: Pool;
}

export function createPools(config: Config, logger: Logger): Pools {
  const pool = (name: keyof Pools, max: number, statementTimeoutMs: number) =>
    createPool(config.DATABASE_URL, {
      application_name: `billing-ledger:${name}`,
      max,
      connectionTimeoutMillis: config.PG_CONNECT_TIMEOUT_MS,
      statement_timeout: statementTimeoutMs,
      // Client side too: a server that vanished mid-query answers nothing at all.
      query_timeout: statementTimeoutMs + 1_000,
      idle_in_transaction_session_timeout: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      keepAlive: true,
      onIdleError: (error) => logger.warn({ pool: name, err: error.message }, 'postgres connection lost'),
    });
  return {
    intake: pool('intake', config.PG_INTAKE_POOL_MAX, config.PG_INTAKE_STATEMENT_TIMEOUT_MS),
    workers: pool('workers', config.PG_WORKER_POOL_MAX, config.PG_STATEMENT_TIMEOUT_MS),
    reads: pool('reads', config.PG_READ_POOL_MAX, config.PG_STATEMENT_TIMEOUT_MS),
  };
}

export async function closePools(pools: Pools): Promise<void> {
  await Promise.allSettled(Object.values(pools).map((pool) => pool.end()));
}

/**
 * Applies the migrations on a connection of its own (no statement timeout: an index build may be
 * long), retrying while PostgreSQL starts; gives up after `deadlineMs`.
 */
export async function migrateWhenReachable(
  config: Config,
  logger: Logger,
  deadlineMs = 30_000,
): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    const pool = createPool(config.DATABASE_URL, {
      application_name: 'billing-ledger:migrate',
      max: 1,
      connectionTimeoutMillis: config.PG_CONNECT_TIMEOUT_MS,
      onIdleError: () => undefined,
    });
    try {
      await migratePostgres(pool);
      return;
    } catch (error) {
      const delay = backoffDelay(attempt, { initialMs: 250, maxMs: 5_000 });
      if (!isConnectionError(error) || Date.now() + delay > giveUpAt) throw error;
      logger.warn({ err: (error as Error).message, retryInMs: delay }, 'postgres not reachable; retrying');
      await sleep(delay);
    } finally {
      await pool.end().catch(() => undefined);
    }
  }
}

/** Errors that mean "not reachable yet", as opposed to a broken migration. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', '57P03', '57P01'].includes(code) ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(message)
  );
}

/**
 * ioredis connects in the background and reconnects forever with capped backoff; commands wait
 * in the offline queue for a few reconnects, then fail (the caller retries or answers 503).
 */
export function createRedis(config: Config, logger: Logger, name = 'redis'): Redis {
  const redis = new Redis(config.REDIS_URL, {
    connectTimeout: config.REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    retryStrategy: (times) => backoffDelay(times, { initialMs: 100, maxMs: 5_000 }),
  });
  let lastLogged = 0;
  redis.on('error', (error: Error) => {
    // Every reconnect attempt emits one: log at most one per 10 s.
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.warn({ client: name, err: error.message }, 'redis error');
  });
  return redis;
}

export function createClickHouse(config: Config): ClickHouseClient {
  return createClickHouseClient(config.CLICKHOUSE_URL, {
    requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
  });
}
