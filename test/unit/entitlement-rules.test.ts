import { loadCatalog, tierForPrice } from '../../src/catalog/catalog';
import {
  asOf,
  computeEntitlements,
  featureAccess,
  type SubscriptionAccess,
} from '../../src/projections/entitlements/compute-entitlements';

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
