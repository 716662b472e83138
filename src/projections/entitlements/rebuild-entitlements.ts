import { toBusEvent } from '../../bus/port';
import type { EventStore } from '../../eventstore/port';
import type { CustomerAccessState } from './entitlements-projection';
import { customerEvents } from './point-in-time';
import type { CustomerAccessProjection, RedisEntitlementsStore } from './redis-entitlements-store';

export interface RebuildEntitlementsOptions {
  store: EventStore;
  live: RedisEntitlementsStore<CustomerAccessState>;
  projection: CustomerAccessProjection<CustomerAccessState>;
  batchSize?: number;
  onProgress?: (progress: { phase: 'fold' | 'write'; done: number; total: number }) => void;
  /** Called between the fold and the swap: live events keep arriving there (tests interleave them). */
  onFolded?: () => Promise<void>;
}

export interface RebuildEntitlementsResult {
  events: number;
  customers: number;
  /** Log position the rebuild folded up to (customers the live consumer had moved past were caught up too). */
  position: bigint;
  caughtUp: number;
}

/**
 * Rebuilds feature access in place, with no downtime: folds the whole log (up to its head when
 * the rebuild starts) with the current projection code, then replaces each customer's state
 * atomically. Readers see, per customer, either the old answer or the new one, never a gap.
 * A customer the live consumer moved past the rebuild's head meanwhile has its newer events
 * folded in before the swap, so nothing the consumer applied is lost.
 */
export async function rebuildEntitlements(
  options: RebuildEntitlementsOptions,
): Promise<RebuildEntitlementsResult> {
  const { store, live, projection } = options;
  const head = await store.headPosition();
  const folded = new Map<string, { position: bigint; state: CustomerAccessState }>();
  let after = 0n;
  let events = 0;
  while (after < head) {
    const batch = await store.readAll({ after, maxCount: options.batchSize ?? 1000 });
    if (batch.length === 0) break;
    for (const recorded of batch) {
      if (recorded.position > head) break;
      const event = toBusEvent(recorded);
      const current = folded.get(event.customerId) ?? {
        position: 0n,
        state: projection.initial(event.customerId),
      };
      folded.set(event.customerId, {
        position: recorded.position,
        state: projection.apply(current.state, event),
      });
      events += 1;
    }
    after = batch[batch.length - 1]!.position;
    options.onProgress?.({ phase: 'fold', done: Number(after > head ? head : after), total: Number(head) });
  }

  await options.onFolded?.();
  let written = 0;
  let caughtUp = 0;
  for (const [customerId, rebuilt] of folded) {
    await live.replace(customerId, async (stored) => {
      if (stored.position <= rebuilt.position) return rebuilt;
      // The live consumer applied newer events: fold them too (their subscriptions included).
      caughtUp += 1;
      const newer = (
        await customerEvents(store, {
          ...rebuilt.state,
          subscriptions: { ...stored.state.subscriptions, ...rebuilt.state.subscriptions },
        })
      ).filter((event) => event.position > rebuilt.position && event.position <= stored.position);
      let state = rebuilt.state;
      for (const event of newer) state = projection.apply(state, toBusEvent(event));
      return { position: stored.position, state };
    });
    written += 1;
    if (written % 500 === 0 || written === folded.size)
      options.onProgress?.({ phase: 'write', done: written, total: folded.size });
  }
  return { events, customers: folded.size, position: head, caughtUp };
}
