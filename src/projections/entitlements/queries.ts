import type { Redis } from 'ioredis';
import type { PlanCatalog } from '../../catalog/catalog';
import type { EventStore } from '../../eventstore/port';
import type { Logger } from '../../shared/logger';
import type { Entitlements } from './compute-entitlements';
import { entitlementsProjection } from './entitlements-projection';
import { pointInTimeEntitlements } from './point-in-time';
import { RedisAccessStore } from './redis-access-store';

export { asOf, featureAccess, type Entitlements, type FeatureAnswer } from './compute-entitlements';

/** The one face of the feature-access read model: what the gateway and the command line ask it. */
export interface EntitlementsQueries {
  /** The answer as the model stored it (apply the clock with `asOf`), or null for an unknown customer. */
  getDocument(customerId: string): Promise<Entitlements | null>;
  customerIdForUser(userId: string): Promise<string | null>;
  /** What the customer had at an instant, folded from the log; null when it did not exist yet. */
  pointInTime(customerId: string, at: Date): Promise<Entitlements | null>;
}

export function entitlementsQueries(options: {
  redis: Redis;
  store: EventStore;
  catalog: PlanCatalog;
  logger: Logger;
  /** Key prefix, e.g. `billing-ledger:ent:`. */
  prefix: string;
}): EntitlementsQueries {
  const access = new RedisAccessStore(options.redis, options.prefix);
  const known = {
    getState: async (customerId: string) =>
      (await access.readCustomers([customerId])).get(customerId) ?? null,
  };
  const pointInTime = pointInTimeEntitlements(
    options.store,
    known,
    entitlementsProjection(options.catalog, options.logger),
  );
  return {
    getDocument: (customerId) => access.getDocument(customerId),
    customerIdForUser: (userId) => access.customerIdForUser(userId),
    pointInTime,
  };
}

/**
 * The answer's validator. The position says which events it reflects; the phase says which
 * side of its dates the clock is on, because the answer changes when `accessUntil` passes
 * (access ends before Stripe's deletion arrives), and a client revalidating with If-None-Match
 * must not keep a cached premium answer past it. The trial end is a phase boundary too.
 */
export function entitlementsETag(doc: Entitlements, now: Date): string {
  const passed = (instant: string | null) => instant !== null && Date.parse(instant) <= now.getTime();
  const phase = passed(doc.accessUntil) ? 'access-ended' : passed(doc.trialEndsAt) ? 'trial-ended' : 'open';
  return `"${doc.customerId}@${doc.position};${phase}"`;
}
