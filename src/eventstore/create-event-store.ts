import type { Pool } from 'pg';
import { createPool } from '../infra/postgres/pool';
import { MemoryEventStore } from './memory-event-store';
import type { EventStore } from './port';
import { PostgresEventStore } from './postgres-event-store';

export type EventStoreKind = 'postgres' | 'eventstoredb' | 'memory';

export interface EventStoreConfig {
  kind: EventStoreKind;
  /** PostgreSQL: the pool to use (the store leaves it open on close). */
  pool?: Pool;
  /** PostgreSQL without a pool: a postgres:// URL (the store owns that pool). EventStoreDB: its connection string. */
  connectionString?: string;
}

/** The one place that knows which adapter is in use (EVENT_STORE). */
export function createEventStore(config: EventStoreConfig): EventStore {
  switch (config.kind) {
    case 'memory':
      return new MemoryEventStore();
    case 'postgres':
      if (config.pool) return new PostgresEventStore(config.pool);
      return new PostgresEventStore(createPool(required(config, 'a pool or a connection string')), {
        ownsPool: true,
      });
    case 'eventstoredb':
      return loadKurrentDb().KurrentDbEventStore.fromConnectionString(
        required(config, 'EVENTSTORE_CONNECTION_STRING'),
      );
  }
}

/**
 * The KurrentDB client (gRPC, protobuf) takes 100-240 ms to load: only a process that uses it
 * pays for it, so a PostgreSQL-backed gateway listens sooner.
 */
function loadKurrentDb(): typeof import('./kurrentdb-event-store') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./kurrentdb-event-store') as typeof import('./kurrentdb-event-store');
}

function required(config: EventStoreConfig, what: string): string {
  if (!config.connectionString) throw new Error(`Event store ${config.kind} needs ${what}`);
  return config.connectionString;
}
