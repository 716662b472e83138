import {
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
  T0,
  DAY,
} from '../../test/support/stripe-fixtures';
import { subscriptionStream } from '../aggregates/streams';
import { MemoryEventStore } from '../eventstore/memory-event-store';
import type { AppendOutcome, AppendRequest, EventStore } from '../eventstore/port';
import { ConcurrencyRetriesExhaustedError } from './handle-command';
import { processStripeEvent } from './process-stripe-event';

/** A memory store that lets a test act just before an append (another writer, a lost reply). */
class InterceptingStore extends MemoryEventStore {
  beforeAppend: ((streamName: string) => Promise<void>) | null = null;
  afterAppend: (() => void) | null = null;
  appendCalls = 0;

  override async appendMany(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    this.appendCalls++;
    const hook = this.beforeAppend;
    if (hook) await hook(requests[0]?.streamName ?? '');
    const result = await super.appendMany(requests);
    this.afterAppend?.();
    return result;
  }
}

const STREAM = subscriptionStream('sub_T1');
const created = subscriptionCreatedEvent({}, { id: 'evt_c', created: T0 });
const upgrade = subscriptionUpdatedEvent(
  { items: [{ price: { id: 'price_big', unitAmount: 9900 } }] },
  { id: 'evt_u', created: T0 + DAY },
);
const later = subscriptionUpdatedEvent(
  { items: [{ price: { id: 'price_big', unitAmount: 9900 }, quantity: 2 }] },
  { id: 'evt_l', created: T0 + 2 * DAY },
);

describe('handleCommand: expected revision, retry on conflict, idempotent appends', () => {
  it('on a concurrency conflict, reloads and decides again against what the other writer appended', async () => {
    const store = new InterceptingStore();
    await processStripeEvent(store, created);
    store.beforeAppend = async () => {
      store.beforeAppend = null;
      await processStripeEvent(store as EventStore, later); // someone else wins the race
    };
    const result = await processStripeEvent(store, upgrade);
    expect(result.appended).toEqual([{ streamName: STREAM, count: 1 }]);
    const types = (await store.readStream(STREAM)).map((e) => [e.type, e.metadata.stripeEventId]);
    // evt_u is older than evt_l, which won the race: on retry it is recognised as stale.
    expect(types).toEqual([
      ['SubscriptionStarted', 'evt_c'],
      ['SubscriptionItemsChanged', 'evt_l'],
      ['SubscriptionStaleEventIgnored', 'evt_u'],
    ]);
    expect(store.appendCalls).toBe(4);
  });

  it('gives up after a bounded number of conflicts with a typed error', async () => {
    const store = new InterceptingStore();
    await processStripeEvent(store, created);
    let n = 0;
    const interfere = async () => {
      n++;
      store.beforeAppend = null; // the other writer's own append goes straight through
      await processStripeEvent(
        store,
        subscriptionUpdatedEvent(
          { items: [{ quantity: n + 1 }] },
          { id: `evt_other_${n}`, created: T0 + 10 * DAY + n },
        ),
      );
      store.beforeAppend = interfere;
    };
    store.beforeAppend = interfere;
    await expect(processStripeEvent(store, upgrade, { maxAttempts: 3 })).rejects.toBeInstanceOf(
      ConcurrencyRetriesExhaustedError,
    );
    expect(n).toBe(3);
  });

  it('a retry after an append whose reply was lost appends nothing more', async () => {
    const store = new InterceptingStore();
    await processStripeEvent(store, created);
    store.afterAppend = () => {
      store.afterAppend = null;
      throw new Error('connection reset');
    };
    await expect(processStripeEvent(store, upgrade)).rejects.toThrow('connection reset');
    const again = await processStripeEvent(store, upgrade);
    expect(again.appended).toEqual([{ streamName: STREAM, count: 0 }]);
    expect(await store.readStream(STREAM)).toHaveLength(2);
  });

  it('event ids are derived from the Stripe event: two stores get the same ids', async () => {
    const ids = async () => {
      const store = new MemoryEventStore();
      await processStripeEvent(store, created);
      await processStripeEvent(store, upgrade);
      return (await store.readStream(STREAM)).map((e) => e.id);
    };
    const first = await ids();
    expect(first).toHaveLength(2);
    expect(await ids()).toEqual(first);
  });
});
