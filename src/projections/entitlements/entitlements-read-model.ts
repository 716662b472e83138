import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { toBusEvent, type BusEvent } from '../../bus/port';
import type { PlanCatalog } from '../../catalog/catalog';
import type { EventStore } from '../../eventstore/port';
import { StoreLostError, type PartitionBatch, type ReadModel } from '../../runtime/read-model';
import { backoffDelay, sleep } from '../../shared/async';
import type { Logger } from '../../shared/logger';
import { entitlementsProjection, type EntitlementsProjection } from './entitlements-projection';
import { customerEvents } from './point-in-time';
import { RedisAccessStore, type CustomerWrite, type StoredCustomer } from './redis-access-store';
import {
  LOCK_TTL_MS,
  rebuildFromScratch,
  rebuildInPlace,
  type RebuildProgress,
  type RebuildResult,
} from './rebuild-entitlements';

export interface EntitlementsReadModelOptions {
  redis: Redis;
  /** The event log: rebuilds and dead-letter replays fold from it. */
  store: EventStore;
  /** The log's identity (ledger_identity in PostgreSQL): the marker the Redis store must carry. */
  logIdentity: () => Promise<string>;
  catalog: PlanCatalog;
  logger: Logger;
  /** Key prefix, e.g. `billing-ledger:ent:`. */
  prefix: string;
  /** Test hook: runs after a batch's customers were read and before they are written. */
  afterRead?: (customerIds: readonly string[]) => Promise<void>;
}

export interface EntitlementsReadModel extends ReadModel {
  readonly projection: EntitlementsProjection;
  /**
   * `billing-ledger rebuild entitlements`: in place with no downtime when the store is this
   * log's, from scratch when it was lost.
   */
  rebuild(options?: {
    onProgress?: (p: RebuildProgress) => void;
    onFolded?: () => Promise<void>;
    signal?: AbortSignal;
  }): Promise<RebuildResult>;
}

const NAME = 'entitlements';

/** The model's Redis keys live under `<namespace>:ent:`. */
export const entitlementsKeyPrefix = (namespace: string): string => `${namespace}:ent:`;
/** Compare-and-set rounds before a batch gives up (and the runtime retries it later). */
const MAX_ROUNDS = 20;

export function entitlementsReadModel(options: EntitlementsReadModelOptions): EntitlementsReadModel {
  const { store, logger } = options;
  const access = new RedisAccessStore(options.redis, options.prefix);
  const projection = entitlementsProjection(options.catalog, logger);
  let identity: string | null = null;
  const logIdentity = async () => (identity ??= await options.logIdentity());

  const lost = (detail: string) =>
    new StoreLostError(NAME, `${detail}: Redis under ${options.prefix} is not the model of this event log`);

  /**
   * The one way customers change: read their stored position and document (one round trip),
   * compute the next document in memory, write each with a compare-and-set script (one
   * pipelined round trip); customers another writer changed in between are read and computed
   * again.
   */
  async function update(
    customerIds: readonly string[],
    compute: (customerId: string, stored: StoredCustomer | null) => Promise<StoredCustomer | null>,
  ): Promise<void> {
    if (customerIds.length === 0) return;
    const id = await logIdentity();
    let pending = [...customerIds];
    for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
      if (round > 0) await sleep(backoffDelay(round, { initialMs: 5, maxMs: 200 }));
      const stored = await access.readCustomers(pending);
      await options.afterRead?.(pending);
      const writes: CustomerWrite[] = [];
      for (const customerId of pending) {
        const before = stored.get(customerId) ?? null;
        const next = await compute(customerId, before);
        if (next === null) continue;
        writes.push({
          customerId,
          expected: before?.position ?? null,
          position: next.position,
          state: next.state,
          doc: projection.render(next.state, next.position),
          previousUserId: before ? projection.userIdOf(before.state) : null,
          userId: projection.userIdOf(next.state),
        });
      }
      if (writes.length === 0) return;
      const outcomes = await access.writeCustomers(id, writes);
      if (outcomes.includes('store-lost')) throw lost('a write found no marker');
      pending = writes.filter((_, i) => outcomes[i] === 'conflict').map((w) => w.customerId);
    }
    // Starts like Redis's own TRYAGAIN, which the runtime retries with backoff: not a poison event.
    if (pending.length > 0)
      throw new Error(
        `TRYAGAIN entitlements: ${pending.length} customer(s) kept changing under ${MAX_ROUNDS} rounds`,
      );
  }

  /** Folds each customer's events above its stored position: a replayed event changes nothing. */
  async function applyEvents(events: readonly BusEvent[]): Promise<void> {
    const byCustomer = new Map<string, BusEvent[]>();
    for (const event of events) {
      const list = byCustomer.get(event.customerId);
      if (list) list.push(event);
      else byCustomer.set(event.customerId, [event]);
    }
    await update([...byCustomer.keys()], async (customerId, stored) => {
      let position = stored?.position ?? 0n;
      let state = stored?.state ?? projection.initial(customerId);
      let applied = 0;
      for (const event of byCustomer.get(customerId)!) {
        const at = BigInt(event.position);
        if (at <= position) continue;
        state = projection.apply(state, event);
        position = at;
        applied += 1;
      }
      return applied === 0 ? null : { position, state };
    });
  }

  /**
   * Makes sure the store is this log's model, rebuilding it from the log when it is not.
   * Several processes may find the store lost at once: one takes the lock and rebuilds, the
   * others wait for the marker.
   */
  async function ensureBuilt(
    signal: AbortSignal,
    onProgress?: (p: RebuildProgress) => void,
  ): Promise<RebuildResult | null> {
    identity = await options.logIdentity();
    for (;;) {
      signal.throwIfAborted();
      const marker = await access.marker();
      if (marker === identity) return null;
      const token = randomUUID();
      if (await access.acquireLock(token, LOCK_TTL_MS)) {
        logger.warn(
          { model: NAME, prefix: options.prefix, marker, identity },
          marker === null
            ? 'entitlements: Redis has no marker (emptied or never built): rebuilding from the event log'
            : 'entitlements: Redis carries another event log marker: rebuilding from this event log',
        );
        try {
          const result = await rebuildFromScratch({
            store,
            projection,
            access,
            identity,
            token,
            logger,
            signal,
            onProgress,
          });
          if (result) {
            logger.info(
              {
                model: NAME,
                customers: result.customers,
                events: result.events,
                position: String(result.position),
              },
              'entitlements: rebuilt from the event log',
            );
            return result;
          }
          logger.warn({ model: NAME }, 'entitlements: lost the rebuild lock; waiting for the other rebuild');
        } finally {
          await access.holdLock(token, 0).catch(() => undefined);
        }
      } else {
        await sleep(250, signal);
      }
    }
  }

  const model: EntitlementsReadModel = {
    name: NAME,
    projection,

    async prepare(signal) {
      // Redis runs with AOF everysec: a kill -9 of Redis may lose its last second of writes.
      // The checkpoints live in the same Redis as the effects and AOF keeps a prefix of the
      // writes, so the stored checkpoint is never ahead of the stored effects: the consumer
      // re-reads from the older checkpoint and the position guard skips what survived.
      const rebuilt = await ensureBuilt(signal);
      // After a rebuild, no checkpoint of our own: resume from the group's committed offsets;
      // events at or below the rebuilt positions are skipped by the guard.
      return rebuilt ? new Map() : access.checkpoints();
    },

    async apply(batch: PartitionBatch) {
      await applyEvents(batch.events);
      if (!(await access.writeCheckpoint(await logIdentity(), batch.partition, batch.nextOffset)))
        throw lost('the checkpoint write found no marker');
    },

    async replay(event) {
      // Position guards would skip an old event: refold the customer from the log instead.
      const subscriptionId = event.data.subscriptionId;
      await update([event.customerId], async (customerId, stored) => {
        const subscriptions = { ...(stored?.state.subscriptions ?? {}) };
        if (typeof subscriptionId === 'string') subscriptions[subscriptionId] ??= null;
        const events = await customerEvents(store, { customerId, subscriptions });
        const last = events[events.length - 1];
        if (!last) return null;
        let state = projection.initial(customerId);
        for (const recorded of events) state = projection.apply(state, toBusEvent(recorded));
        return { position: last.position, state };
      });
    },

    async rebuild(rebuildOptions = {}) {
      const signal = rebuildOptions.signal ?? new AbortController().signal;
      const fromScratch = await ensureBuilt(signal, rebuildOptions.onProgress);
      if (fromScratch) return fromScratch;
      try {
        return await rebuildInPlace({
          store,
          projection,
          update,
          onProgress: rebuildOptions.onProgress,
          onFolded: rebuildOptions.onFolded,
        });
      } catch (error) {
        // Emptied or replaced while we swapped customers: rebuild it whole.
        if (!(error instanceof StoreLostError)) throw error;
        return (
          (await ensureBuilt(signal, rebuildOptions.onProgress)) ?? (await model.rebuild(rebuildOptions))
        );
      }
    },
  };
  return model;
}
