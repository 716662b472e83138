import { customerStream, subscriptionStream } from '../../aggregates/streams';
import { toBusEvent } from '../../bus/port';
import type { EventStore, RecordedEvent } from '../../eventstore/port';
import type { Entitlements } from './compute-entitlements';
import type { CustomerAccessProjection, CustomerAccessState } from './entitlements-projection';

/** Where the live model says which streams a customer has. */
export interface KnownCustomers {
  getState(customerId: string): Promise<{ state: CustomerAccessState } | null>;
}

/** When an event happened in business time: the Stripe event's `created`, else when it was recorded. */
export function occurredAt(event: RecordedEvent): number {
  const at = event.metadata.occurredAt ?? event.data.occurredAt;
  const parsed = typeof at === 'string' ? Date.parse(at) : NaN;
  return Number.isNaN(parsed) ? event.recordedAt.getTime() : parsed;
}

/**
 * Entitlements as they were at an instant: the customer's streams (its own and each of its
 * subscriptions', as the live model knows them) read from the log, cut at the instant, and
 * folded with the very projection the live model uses. No extra store.
 */
export function pointInTimeEntitlements(
  store: EventStore,
  live: KnownCustomers,
  projection: CustomerAccessProjection<CustomerAccessState>,
) {
  return async (customerId: string, at: Date): Promise<Entitlements | null> => {
    const known = await live.getState(customerId);
    if (!known) return null;
    const events = (await customerEvents(store, known.state)).filter(
      (event) => occurredAt(event) <= at.getTime(),
    );
    const last = events[events.length - 1];
    if (!last) return null;
    let state = projection.initial(customerId);
    for (const event of events) state = projection.apply(state, toBusEvent(event));
    return projection.render(state, last.position);
  };
}

/** Every event of a customer (its own stream and its subscriptions'), in log order. */
export async function customerEvents(
  store: EventStore,
  state: Pick<CustomerAccessState, 'customerId' | 'subscriptions'>,
): Promise<RecordedEvent[]> {
  const streams = [
    customerStream(state.customerId),
    ...Object.keys(state.subscriptions).map(subscriptionStream),
  ];
  return (await Promise.all(streams.map((stream) => readWholeStream(store, stream))))
    .flat()
    .sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
}

async function readWholeStream(store: EventStore, stream: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const batch = await store.readStream(stream, events.length);
    if (batch.length === 0) return events;
    events.push(...batch);
  }
}
