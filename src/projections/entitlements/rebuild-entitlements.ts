import { toBusEvent } from '../../bus/port';
import type { EventStore } from '../../eventstore/port';
import type { Logger } from '../../shared/logger';
import type { EntitlementsProjection } from './entitlements-projection';
import { customerEvents } from './point-in-time';
import type { RedisAccessStore, StoredCustomer } from './redis-access-store';

export interface RebuildProgress {
  phase: 'fold' | 'write';
  done: number;
  total: number;
}

export interface RebuildResult {
  /** `in-place`: the model was healthy, customers were swapped one by one; `from-scratch`: the store was lost. */
  mode: 'in-place' | 'from-scratch';
  events: number;
  customers: number;
  /** Log position the rebuild folded up to. */
  position: bigint;
  /** Customers the live consumer had moved past the fold: their newer events were folded in too. */
  caughtUp: number;
}

/** Folds the whole log up to its head (read now) into one document per customer, in memory. */
export async function foldLog(
  store: EventStore,
  projection: EntitlementsProjection,
  options: {
    batchSize?: number;
    signal?: AbortSignal;
    onProgress?: (p: RebuildProgress) => void | Promise<void>;
  },
): Promise<{ folded: Map<string, StoredCustomer>; events: number; head: bigint }> {
  const head = await store.headPosition();
  const folded = new Map<string, StoredCustomer>();
  let after = 0n;
  let events = 0;
  while (after < head) {
    options.signal?.throwIfAborted();
    const batch = await store.readAll({ after, maxCount: options.batchSize ?? 2000 });
    if (batch.length === 0) break;
    for (const recorded of batch) {
      if (recorded.position > head) break;
      const event = toBusEvent(recorded);
      const current = folded.get(event.customerId)?.state ?? projection.initial(event.customerId);
      folded.set(event.customerId, { position: recorded.position, state: projection.apply(current, event) });
      events += 1;
    }
    after = batch[batch.length - 1]!.position;
    await options.onProgress?.({
      phase: 'fold',
      done: Number(after > head ? head : after),
      total: Number(head),
    });
  }
  return { folded, events, head };
}

/** What the in-place rebuild needs of the read model: its compare-and-set update loop. */
export type UpdateCustomers = (
  customerIds: readonly string[],
  compute: (customerId: string, stored: StoredCustomer | null) => Promise<StoredCustomer | null>,
) => Promise<void>;

/**
 * Rebuilds feature access in place with no downtime, while the live consumer keeps writing:
 * folds the log up to its head with the current projection code, then swaps each customer
 * (compare-and-set on its position, in pipelined chunks). Readers see either the old answer or
 * the new one, never a gap. A customer the live consumer moved past the fold meanwhile has its
 * newer events folded in before the swap, so nothing the consumer applied is lost.
 */
export async function rebuildInPlace(options: {
  store: EventStore;
  projection: EntitlementsProjection;
  update: UpdateCustomers;
  chunkSize?: number;
  onProgress?: (p: RebuildProgress) => void;
  /** Between the fold and the swap: live events keep arriving there (tests interleave them). */
  onFolded?: () => Promise<void>;
}): Promise<RebuildResult> {
  const { store, projection } = options;
  const { folded, events, head } = await foldLog(store, projection, { onProgress: options.onProgress });
  await options.onFolded?.();
  const customers = [...folded.keys()];
  const chunkSize = options.chunkSize ?? 500;
  let caughtUp = 0;
  for (let start = 0; start < customers.length; start += chunkSize) {
    await options.update(customers.slice(start, start + chunkSize), async (customerId, stored) => {
      const rebuilt = folded.get(customerId)!;
      if (stored === null || stored.position <= rebuilt.position) return rebuilt;
      caughtUp += 1;
      const known = {
        ...rebuilt.state,
        subscriptions: { ...stored.state.subscriptions, ...rebuilt.state.subscriptions },
      };
      const newer = (await customerEvents(store, known)).filter(
        (event) => event.position > rebuilt.position && event.position <= stored.position,
      );
      let state = rebuilt.state;
      for (const event of newer) state = projection.apply(state, toBusEvent(event));
      return { position: stored.position, state };
    });
    const done = Math.min(start + chunkSize, customers.length);
    options.onProgress?.({ phase: 'write', done, total: customers.length });
  }
  return { mode: 'in-place', events, customers: customers.length, position: head, caughtUp };
}

const LOCK_TTL_MS = 30_000;

/**
 * Rebuilds the model from nothing, for a store that lost its marker (emptied, or another log's):
 * holding the rebuild lock, removes every key of the model, folds the log up to its head, writes
 * every customer, then the marker. Until the marker is back, live writes land nowhere.
 * Answers null when the lock was lost to another process (its rebuild wins).
 */
export async function rebuildFromScratch(options: {
  store: EventStore;
  projection: EntitlementsProjection;
  access: RedisAccessStore;
  identity: string;
  token: string;
  logger: Logger;
  signal?: AbortSignal;
  chunkSize?: number;
  onProgress?: (p: RebuildProgress) => void;
}): Promise<RebuildResult | null> {
  const { store, projection, access, token, logger, signal } = options;
  const started = Date.now();
  let lastLog = 0;
  const report = async (p: RebuildProgress) => {
    options.onProgress?.(p);
    if (!(await access.holdLock(token, LOCK_TTL_MS))) throw new LockLost();
    if (Date.now() - lastLog < 2000 && p.done < p.total) return;
    lastLog = Date.now();
    const rate = p.done / Math.max((Date.now() - started) / 1000, 0.001);
    logger.info(
      { model: 'entitlements', ...p, perSecond: Math.round(rate) },
      'entitlements rebuild progress',
    );
  };
  try {
    if (!(await access.wipe(token))) return null;
    const { folded, events, head } = await foldLog(store, projection, { signal, onProgress: report });
    const customers = [...folded.entries()];
    const chunkSize = options.chunkSize ?? 1000;
    for (let start = 0; start < customers.length; start += chunkSize) {
      signal?.throwIfAborted();
      const writes = customers.slice(start, start + chunkSize).map(([customerId, { position, state }]) => ({
        customerId,
        position,
        state,
        doc: projection.render(state, position),
        userId: projection.userIdOf(state),
      }));
      if (!(await access.writeRebuilt(token, writes))) return null;
      await report({ phase: 'write', done: start + writes.length, total: customers.length });
    }
    if (!(await access.setMarker(token, options.identity))) return null;
    return { mode: 'from-scratch', events, customers: customers.length, position: head, caughtUp: 0 };
  } catch (error) {
    if (error instanceof LockLost) return null;
    throw error;
  }
}

class LockLost extends Error {}

export { LOCK_TTL_MS };
