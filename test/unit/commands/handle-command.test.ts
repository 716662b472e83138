import { subscriptionCreatedEvent, subscriptionUpdatedEvent, T0, DAY } from '../../support/stripe-fixtures';
import { subscriptionStream } from '../../../src/aggregates/streams';
import { MemoryEventStore } from '../../../src/eventstore/memory-event-store';
import type { AppendOutcome, AppendRequest, EventStore } from '../../../src/eventstore/port';
import {
  CommandHandler,
  ConcurrencyRetriesExhaustedError,
  StreamStateCache,
} from '../../../src/commands/handle-command';
import { processStripeEvent } from '../../../src/commands/process-stripe-event';

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

  it('keeps the state and revision it has: a stream is read once, not once per command', async () => {
    const store = new InterceptingStore();
    let reads = 0;
    const readStream = store.readStream.bind(store);
    store.readStream = async (...args) => {
      reads++;
      return readStream(...args);
    };
    const handler = new CommandHandler(store);
    await processStripeEvent(store, created, { handler });
    for (let n = 1; n <= 20; n++)
      await processStripeEvent(
        store,
        subscriptionUpdatedEvent({ items: [{ quantity: n + 1 }] }, { id: `evt_q${n}`, created: T0 + n }),
        { handler },
      );
    expect(reads).toBe(1);
    expect(await store.readStream(STREAM)).toHaveLength(21);
  });

  it('the cache is bounded: the least recently used stream goes first', () => {
    const cache = new StreamStateCache(2);
    cache.set('a', { revision: 0, state: 'A' });
    cache.set('b', { revision: 0, state: 'B' });
    cache.get('a');
    cache.set('c', { revision: 0, state: 'C' });
    expect([cache.get('a')?.state, cache.get('b'), cache.get('c')?.state]).toEqual(['A', undefined, 'C']);
    expect(cache.size).toBe(2);
  });

  it('a cached state gone stale (another process appended) costs one conflict and a reload, not a wrong decision', async () => {
    const store = new InterceptingStore();
    const mine = new CommandHandler(store);
    await processStripeEvent(store, created, { handler: mine });
    await processStripeEvent(store, later, { handler: new CommandHandler(store) }); // another process
    const result = await processStripeEvent(store, upgrade, { handler: mine });
    expect(result.appended).toEqual([{ streamName: STREAM, count: 1 }]);
    expect((await store.readStream(STREAM)).map((e) => [e.type, e.metadata.stripeEventId])).toEqual([
      ['SubscriptionStarted', 'evt_c'],
      ['SubscriptionItemsChanged', 'evt_l'],
      ['SubscriptionStaleEventIgnored', 'evt_u'],
    ]);
  });

  it('a redelivery older than what the aggregate remembers is still recognised: its event ids are already stored', async () => {
    const store = new MemoryEventStore();
    const handler = new CommandHandler(store);
    await processStripeEvent(store, created, { handler });
    await processStripeEvent(store, upgrade, { handler });
    // 60 newer Stripe events push evt_u out of the aggregate's memory of recent ids.
    for (let n = 1; n <= 60; n++)
      await processStripeEvent(
        store,
        subscriptionUpdatedEvent(
          { items: [{ quantity: (n % 5) + 1 }] },
          { id: `evt_n${n}`, created: T0 + 3 * DAY + n },
        ),
        { handler },
      );
    const length = (await store.readStream(STREAM)).length;
    const again = await processStripeEvent(store, upgrade, { handler });
    expect(again.appended).toEqual([{ streamName: STREAM, count: 0 }]);
    expect(await store.readStream(STREAM)).toHaveLength(length);
  });
});
