import { MemoryEventStore } from '../../../src/eventstore/memory-event-store';
import { T0, iso, subscriptionCreatedEvent } from '../../support/stripe-fixtures';
import { parseDomainEvent } from '../../../src/aggregates/events';
import { subscriptionStream } from '../../../src/aggregates/streams';
import { eventIdFor } from '../../../src/commands/event-id';
import { processStripeEvent } from '../../../src/commands/process-stripe-event';

describe('processStripeEvent', () => {
  it('customer.subscription.created: appends SubscriptionStarted with MRR and Stripe metadata', async () => {
    const store = new MemoryEventStore();
    const event = subscriptionCreatedEvent(
      { id: 'sub_P1', customer: 'cus_P1' },
      { id: 'evt_P1', created: T0 },
    );

    const result = await processStripeEvent(store, event, { correlationId: 'corr-1' });

    expect(result).toEqual({
      outcome: 'applied',
      stripeEventId: 'evt_P1',
      stripeEventType: 'customer.subscription.created',
      appended: [{ streamName: 'subscription-sub_P1', count: 1 }],
    });
    const [recorded, ...rest] = await store.readStream(subscriptionStream('sub_P1'));
    expect(rest).toEqual([]);
    expect(recorded).toMatchObject({
      id: eventIdFor('evt_P1', 'subscription-sub_P1', 0),
      type: 'SubscriptionStarted',
      metadata: {
        schemaVersion: 1,
        stripeEventId: 'evt_P1',
        stripeEventType: 'customer.subscription.created',
        correlationId: 'corr-1',
        causationId: 'evt_P1',
        occurredAt: iso(T0),
        source: 'stripe',
      },
    });
    const parsed = parseDomainEvent(recorded!.type, recorded!.data, recorded!.metadata.schemaVersion);
    expect(parsed.data).toMatchObject({
      customerId: 'cus_P1',
      subscriptionId: 'sub_P1',
      mrr: { amount: 2000, currency: 'usd' },
    });
  });

  it('twice: the same Stripe event appends nothing the second time', async () => {
    const store = new MemoryEventStore();
    const event = subscriptionCreatedEvent({}, { id: 'evt_P2' });
    await processStripeEvent(store, event);
    const again = await processStripeEvent(store, event);
    expect(again.appended).toEqual([{ streamName: 'subscription-sub_T1', count: 0 }]);
    expect(await store.readStream('subscription-sub_T1')).toHaveLength(1);
  });

  it('answers unhandled_type for a type it does not act on, and writes nothing', async () => {
    const store = new MemoryEventStore();
    const result = await processStripeEvent(store, {
      ...subscriptionCreatedEvent(),
      type: 'charge.dispute.created',
    });
    expect(result).toMatchObject({
      outcome: 'unhandled_type',
      reason: 'no handler for Stripe event type charge.dispute.created',
      appended: [],
    });
    expect(await store.headPosition()).toBe(0n);
  });

  it('answers invalid with the reason for a malformed envelope or object', async () => {
    const store = new MemoryEventStore();
    expect(await processStripeEvent(store, { id: 'nope' })).toMatchObject({
      outcome: 'invalid',
      appended: [],
    });
    const broken = subscriptionCreatedEvent();
    (broken.data.object as { status: string }).status = 'sleeping';
    const result = await processStripeEvent(store, broken);
    expect(result.outcome).toBe('invalid');
    expect(result.reason).toContain('status');
    expect(await store.headPosition()).toBe(0n);
  });
});
