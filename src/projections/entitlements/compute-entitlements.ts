import { tierForPrice, type Limits, type PlanCatalog } from '../../catalog/catalog';

/** What the access rules need to know of one subscription. */
export interface SubscriptionAccess {
  subscriptionId: string;
  status: string;
  items: { priceId: string; lookupKey: string | null; priceMetadata: Record<string, string> }[];
  trialEnd: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  cancelAt: string | null;
  /** Set when the trial ended without a payment. */
  trialEndedUnpaid?: boolean;
  /** Set when the dunning saga gave up. */
  dunningExhausted?: boolean;
}

export interface Entitlements {
  customerId: string;
  userId: string | null;
  tier: string | null;
  status: string;
  features: string[];
  limits: Limits;
  trialEndsAt: string | null;
  accessUntil: string | null;
  reason: string;
  subscriptionId: string | null;
  position: string;
}

interface Grant {
  subscriptionId: string;
  tier: string | null;
  status: string;
  reason: string;
  trial: boolean;
  trialEndsAt: string | null;
  accessUntil: string | null;
}

/** Reasons a human understands, from the access rules in ARCHITECTURE.md. */
function grantOf(catalog: PlanCatalog, sub: SubscriptionAccess): Grant {
  const tiers = sub.items
    .map((item) => tierForPrice(catalog, item))
    .filter((tier): tier is string => tier !== null)
    .sort((a, b) => (catalog.tiers[b]?.rank ?? 0) - (catalog.tiers[a]?.rank ?? 0));
  const tier = tiers[0] ?? null;
  const base = {
    subscriptionId: sub.subscriptionId,
    status: sub.status,
    trial: false,
    trialEndsAt: null,
    accessUntil: null,
  };
  const none = (reason: string): Grant => ({ ...base, tier: null, reason });
  const scheduledEnd = sub.cancelAtPeriodEnd ? sub.currentPeriodEnd : sub.cancelAt;

  if (sub.dunningExhausted) return none('dunning_exhausted');
  switch (sub.status) {
    case 'trialing':
      if (!tier) return none('price_not_in_catalog');
      return {
        ...base,
        tier,
        trial: true,
        trialEndsAt: sub.trialEnd,
        accessUntil: scheduledEnd,
        reason: 'trial',
      };
    case 'active':
      if (!tier) return none('price_not_in_catalog');
      if (scheduledEnd)
        return { ...base, tier, accessUntil: scheduledEnd, reason: 'cancellation_scheduled_grace' };
      return { ...base, tier, reason: 'active_subscription' };
    case 'past_due':
      if (!tier) return none('price_not_in_catalog');
      return { ...base, tier, accessUntil: scheduledEnd, reason: 'payment_past_due_grace' };
    case 'unpaid':
      return none('payment_unpaid');
    case 'incomplete':
      return none('payment_incomplete');
    case 'incomplete_expired':
      return none('payment_incomplete_expired');
    case 'paused':
      return none(sub.trialEndedUnpaid ? 'trial_ended' : 'subscription_paused');
    case 'canceled':
      return none(sub.trialEndedUnpaid ? 'trial_ended' : 'subscription_canceled');
    default:
      return none('unknown_status');
  }
}

function mergeLimits(target: Limits, source: Limits): Limits {
  const result: Limits = { ...target };
  for (const [key, value] of Object.entries(source)) {
    const current = result[key];
    // null is "unlimited", which beats any number.
    result[key] = current === null || value === null ? null : Math.max(current ?? 0, value);
  }
  return result;
}

function restrictForTrial(
  catalog: PlanCatalog,
  features: string[],
  limits: Limits,
): { features: string[]; limits: Limits } {
  const excluded = new Set(catalog.trial.excludedFeatures);
  const capped: Limits = { ...limits };
  for (const [key, cap] of Object.entries(catalog.trial.limits)) {
    const value = capped[key];
    if (cap !== null && (value === null || value === undefined || value > cap)) capped[key] = cap;
  }
  return { features: features.filter((f) => !excluded.has(f)), limits: capped };
}

/**
 * Entitlements of one customer from its subscriptions. Several subscriptions combine: the
 * highest-ranked tier wins and names the status and reason; features are the union of what
 * every granting subscription gives; each limit is the most generous granted.
 */
export function computeEntitlements(
  catalog: PlanCatalog,
  customer: { customerId: string; userId: string | null; deleted: boolean },
  subscriptions: SubscriptionAccess[],
  position: bigint,
): Entitlements {
  const empty: Entitlements = {
    customerId: customer.customerId,
    userId: customer.userId,
    tier: null,
    status: 'none',
    features: [],
    limits: {},
    trialEndsAt: null,
    accessUntil: null,
    reason: customer.deleted ? 'customer_deleted' : 'no_subscription',
    subscriptionId: null,
    position: position.toString(),
  };
  if (customer.deleted) return empty;

  const grants = subscriptions.map((sub) => grantOf(catalog, sub));
  const granting = grants
    .filter((g): g is Grant & { tier: string } => g.tier !== null)
    .sort(
      (a, b) =>
        (catalog.tiers[b.tier]?.rank ?? 0) - (catalog.tiers[a.tier]?.rank ?? 0) ||
        Number(a.trial) - Number(b.trial),
    );
  const winner = granting[0];
  if (!winner) {
    // Nothing granted: explain with the most recent subscription's reason, if any.
    const last = grants[grants.length - 1];
    return last
      ? { ...empty, status: last.status, reason: last.reason, subscriptionId: last.subscriptionId }
      : empty;
  }

  let features = new Set<string>();
  let limits: Limits = {};
  for (const grant of granting) {
    const tier = catalog.tiers[grant.tier];
    if (!tier) continue;
    const granted = grant.trial
      ? restrictForTrial(catalog, tier.features, tier.limits)
      : { features: tier.features, limits: tier.limits };
    granted.features.forEach((f) => features.add(f));
    limits = mergeLimits(limits, granted.limits);
  }
  features = new Set([...features].sort());
  return {
    ...empty,
    tier: winner.tier,
    status: winner.status,
    features: [...features],
    limits,
    trialEndsAt: winner.trialEndsAt,
    accessUntil: winner.accessUntil,
    reason: winner.reason,
    subscriptionId: winner.subscriptionId,
  };
}

/**
 * Applies the clock at read time: access whose grace has run out is gone even before the
 * `customer.subscription.deleted` webhook arrives.
 */
export function asOf(entitlements: Entitlements, now: Date): Entitlements {
  if (entitlements.accessUntil && Date.parse(entitlements.accessUntil) <= now.getTime()) {
    return { ...entitlements, tier: null, features: [], limits: {}, reason: 'access_period_ended' };
  }
  return entitlements;
}

export interface FeatureAnswer {
  feature: string;
  allowed: boolean;
  reason: string;
  limit: number | null;
}

/** `{ allowed, reason, limit }` for one feature. The limit is the one named like the feature, if any. */
export function featureAccess(
  catalog: PlanCatalog,
  entitlements: Entitlements,
  feature: string,
): FeatureAnswer {
  const limit = entitlements.limits[feature] ?? null;
  if (entitlements.features.includes(feature) || (feature in entitlements.limits && entitlements.tier)) {
    return { feature, allowed: true, reason: entitlements.reason, limit };
  }
  if (!entitlements.tier) return { feature, allowed: false, reason: entitlements.reason, limit: null };
  const inTier = catalog.tiers[entitlements.tier]?.features.includes(feature);
  const reason = inTier && entitlements.status === 'trialing' ? 'not_in_trial' : 'not_in_tier';
  return { feature, allowed: false, reason, limit: null };
}
