import { toBusEvent } from '../../src/bus/port';
import { loadCatalog, tierForPrice } from '../../src/catalog/catalog';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import {
  asOf,
  computeEntitlements,
  featureAccess,
  type SubscriptionAccess,
} from '../../src/projections/entitlements/compute-entitlements';
import { entitlementsProjection } from '../../src/projections/entitlements/entitlements-projection';
import { silentLogger } from '../../src/shared/logger';
import {
  DAY,
  invoicePaymentFailedEvent,
  iso,
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
  type SubscriptionSpec,
} from '../support/stripe-fixtures';

const catalog = loadCatalog();
const customer = { customerId: 'cus_1', userId: 'u_1', deleted: false };

function sub(overrides: Partial<SubscriptionAccess> = {}): SubscriptionAccess {
  return {
    subscriptionId: 'sub_1',
    status: 'active',
    items: [{ priceId: 'price_premium_monthly', lookupKey: null, priceMetadata: {} }],
    trialEnd: null,
    currentPeriodEnd: '2026-02-01T00:00:00.000Z',
    cancelAtPeriodEnd: false,
    cancelAt: null,
    ...overrides,
  };
}

describe('tier of a price', () => {
  it('maps by price id, then lookup key, then metadata.tier, else nothing', () => {
    expect(tierForPrice(catalog, { priceId: 'price_basic_monthly' })).toBe('basic');
    expect(tierForPrice(catalog, { priceId: 'price_x', lookupKey: 'enterprise_yearly' })).toBe('enterprise');
    expect(tierForPrice(catalog, { priceId: 'price_x', priceMetadata: { tier: 'unlimited' } })).toBe(
      'unlimited',
    );
    expect(tierForPrice(catalog, { priceId: 'price_x', priceMetadata: { tier: 'gold' } })).toBeNull();
  });
});

describe('entitlements of a customer', () => {
  it('grants the tier of an active subscription with its features and limits', () => {
    const e = computeEntitlements(catalog, customer, [sub()], 7n);
    expect(e).toMatchObject({
      tier: 'premium',
      status: 'active',
      reason: 'active_subscription',
      limits: { api_calls_per_day: 10000, storage_gb: 50, users: 5 },
      accessUntil: null,
      position: '7',
    });
    expect(e.features).toEqual(['advanced_api', 'core_features', 'premium_analytics', 'priority_support']);
  });

  it('gives a trial its tier minus the trial restrictions', () => {
    const e = computeEntitlements(
      catalog,
      customer,
      [
        sub({
          status: 'trialing',
          trialEnd: '2026-01-15T00:00:00.000Z',
          items: [{ priceId: 'price_enterprise_monthly', lookupKey: null, priceMetadata: {} }],
        }),
      ],
      1n,
    );
    expect(e.tier).toBe('enterprise');
    expect(e.reason).toBe('trial');
    expect(e.trialEndsAt).toBe('2026-01-15T00:00:00.000Z');
    expect(e.features).not.toContain('dedicated_support');
    expect(e.limits).toEqual({ api_calls_per_day: 1000, storage_gb: 5, users: 2 });
    expect(featureAccess(catalog, e, 'dedicated_support')).toEqual({
      feature: 'dedicated_support',
      allowed: false,
      reason: 'not_in_trial',
      limit: null,
    });
  });

  it('keeps access until the period ends when cancellation is scheduled, then removes it', () => {
    const e = computeEntitlements(catalog, customer, [sub({ cancelAtPeriodEnd: true })], 2n);
    expect(e).toMatchObject({
      tier: 'premium',
      reason: 'cancellation_scheduled_grace',
      accessUntil: '2026-02-01T00:00:00.000Z',
    });
    expect(asOf(e, new Date('2026-01-31T23:59:59Z')).tier).toBe('premium');
    expect(asOf(e, new Date('2026-02-01T00:00:00Z'))).toMatchObject({
      tier: null,
      features: [],
      reason: 'access_period_ended',
    });
  });

  it('keeps the tier while past_due, with a reason', () => {
    const e = computeEntitlements(catalog, customer, [sub({ status: 'past_due' })], 3n);
    expect(e).toMatchObject({ tier: 'premium', status: 'past_due', reason: 'payment_past_due_grace' });
    expect(featureAccess(catalog, e, 'advanced_api')).toMatchObject({
      allowed: true,
      reason: 'payment_past_due_grace',
    });
  });

  it.each([
    ['canceled', {}, 'subscription_canceled'],
    ['unpaid', {}, 'payment_unpaid'],
    ['incomplete', {}, 'payment_incomplete'],
    ['canceled', { trialEndedUnpaid: true }, 'trial_ended'],
    ['past_due', { dunningExhausted: true }, 'dunning_exhausted'],
  ])('grants nothing when %s %p, saying %s', (status, extra, reason) => {
    const e = computeEntitlements(catalog, customer, [sub({ status, ...extra })], 4n);
    expect(e).toMatchObject({ tier: null, features: [], reason });
    expect(featureAccess(catalog, e, 'core_features')).toEqual({
      feature: 'core_features',
      allowed: false,
      reason,
      limit: null,
    });
  });

  it('combines two subscriptions: the highest tier wins, features add up, limits are the most generous', () => {
    const basic = sub({
      subscriptionId: 'sub_b',
      items: [{ priceId: 'price_basic_monthly', lookupKey: null, priceMetadata: {} }],
    });
    const enterprise = sub({
      subscriptionId: 'sub_e',
      items: [{ priceId: 'price_enterprise_yearly', lookupKey: null, priceMetadata: {} }],
    });
    const e = computeEntitlements(catalog, customer, [basic, enterprise], 9n);
    expect(e.tier).toBe('enterprise');
    expect(e.subscriptionId).toBe('sub_e');
    expect(e.features).toEqual(
      expect.arrayContaining(['basic_analytics', 'email_support', 'custom_dashboards']),
    );
    expect(e.limits).toEqual({ api_calls_per_day: null, storage_gb: 500, users: 50 });
  });

  it('says not_in_tier for a feature the tier lacks, and gives limits by name', () => {
    const e = computeEntitlements(
      catalog,
      customer,
      [sub({ items: [{ priceId: 'price_basic_yearly', lookupKey: null, priceMetadata: {} }] })],
      5n,
    );
    expect(featureAccess(catalog, e, 'custom_dashboards')).toEqual({
      feature: 'custom_dashboards',
      allowed: false,
      reason: 'not_in_tier',
      limit: null,
    });
    expect(featureAccess(catalog, e, 'storage_gb')).toEqual({
      feature: 'storage_gb',
      allowed: true,
      reason: 'active_subscription',
      limit: 5,
    });
  });

  it('grants nothing to a deleted customer', () => {
    const e = computeEntitlements(catalog, { ...customer, deleted: true }, [sub()], 6n);
    expect(e).toMatchObject({ tier: null, reason: 'customer_deleted' });
  });

  it('grants nothing for a price the catalogue does not know', () => {
    const e = computeEntitlements(
      catalog,
      customer,
      [sub({ items: [{ priceId: 'price_mystery', lookupKey: null, priceMetadata: {} }] })],
      6n,
    );
    expect(e).toMatchObject({ tier: null, reason: 'price_not_in_catalog' });
  });
});

describe('the feature-access fold, on events the domain decided from Stripe payloads', () => {
  const projection = entitlementsProjection(catalog, silentLogger);
  const T = 1_767_225_600;
  const base: SubscriptionSpec = {
    id: 'sub_F1',
    customer: 'cus_F1',
    created: T,
    currentPeriodStart: T,
    currentPeriodEnd: T + 30 * DAY,
    items: [{ id: 'si_F1', price: { id: 'price_x', metadata: { tier: 'premium' } } }],
  };
  let n = 0;
  async function fold(...stripeEvents: object[]) {
    const store = new MemoryEventStore();
    for (const event of stripeEvents) await processStripeEvent(store, event);
    const events = (await store.readAll()).map(toBusEvent);
    const state = events.reduce((s, e) => projection.apply(s, e), projection.initial('cus_F1'));
    return { state, answer: projection.render(state, BigInt(events.length)) };
  }
  const at = (s: number) => ({ id: `evt_f_${++n}`, created: s });

  it('keeps a price tier from its metadata, and a cancellation at a date is grace until then, withdrawn after', async () => {
    const scheduled = await fold(
      subscriptionCreatedEvent(base, at(T)),
      subscriptionUpdatedEvent({ ...base, cancelAt: T + 10 * DAY }, at(T + DAY)),
    );
    expect(scheduled.answer).toMatchObject({
      tier: 'premium',
      reason: 'cancellation_scheduled_grace',
      accessUntil: iso(T + 10 * DAY),
    });
    expect(scheduled.state.subscriptions.sub_F1?.items).toEqual([
      { priceId: 'price_x', lookupKey: null, metadataTier: 'premium' },
    ]);

    const withdrawn = await fold(
      subscriptionCreatedEvent(base, at(T)),
      subscriptionUpdatedEvent({ ...base, cancelAt: T + 10 * DAY }, at(T + DAY)),
      subscriptionUpdatedEvent({ ...base, cancelAt: null }, at(T + 2 * DAY)),
    );
    expect(withdrawn.answer).toMatchObject({ reason: 'active_subscription', accessUntil: null });
    expect(withdrawn.state.subscriptions.sub_F1).toMatchObject({ cancelAt: null, cancelAtPeriodEnd: false });
  });

  it('knows a subscription named by an invoice before its first snapshot, and grants nothing for it yet', async () => {
    const { state, answer } = await fold(
      invoicePaymentFailedEvent(
        { id: 'in_F1', customer: 'cus_F1', subscription: 'sub_F1', attemptCount: 1 },
        at(T),
      ),
    );
    expect(state.subscriptions).toEqual({ sub_F1: null });
    expect(answer).toMatchObject({ tier: null, reason: 'no_subscription' });
  });

  it('keeps only what access reads: no invoices, discounts, MRR or Stripe event ids', async () => {
    const { state } = await fold(subscriptionCreatedEvent(base, at(T)));
    expect(Object.keys(state.subscriptions.sub_F1 ?? {}).sort()).toEqual([
      'cancelAt',
      'cancelAtPeriodEnd',
      'cancellationReason',
      'currentPeriodEnd',
      'currentPeriodStart',
      'dunningExhausted',
      'endedAt',
      'items',
      'status',
      'trialEnd',
      'trialEndedUnpaid',
    ]);
  });

  it('skips a malformed event and leaves the document unchanged', async () => {
    const { state } = await fold(subscriptionCreatedEvent(base, at(T)));
    const malformed = {
      eventId: '00000000-0000-4000-8000-000000000000',
      type: 'SubscriptionItemsChanged',
      streamName: 'subscription-sub_F1',
      revision: 1,
      position: '9',
      customerId: 'cus_F1',
      data: { subscriptionId: 42 },
      metadata: { schemaVersion: 1 },
      recordedAt: new Date(0).toISOString(),
    };
    expect(projection.apply(state, malformed)).toBe(state);
  });
});
