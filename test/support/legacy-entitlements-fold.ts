import {
  subscriptionEventSchemas,
  type SubscriptionEvent,
  type SubscriptionEventType,
} from '../../src/aggregates/subscription/events';
import {
  evolveSubscription,
  initialSubscriptionState,
  type SubscriptionState,
} from '../../src/aggregates/subscription/state';
import type { BusEvent } from '../../src/bus/port';
import type { PlanCatalog } from '../../src/catalog/catalog';
import type { Logger } from '../../src/shared/logger';
import {
  computeEntitlements,
  type Entitlements,
  type SubscriptionAccess,
} from '../../src/projections/entitlements/compute-entitlements';

/**
 * The feature-access fold as it was before the read model got its own small document: it
 * keeps the write side's whole SubscriptionState (evolveSubscription). Kept in test support
 * only as the reference the new fold is proven equal to (entitlements-fold-equivalence test).
 */
export interface LegacyAccessProjection<State> {
  initial(customerId: string): State;
  apply(state: State, event: BusEvent): State;
  render(state: State, position: bigint): Entitlements;
  userIdOf(state: State): string | null;
}

/** What feature access keeps per customer: folded with the domain's own evolve. */
export interface LegacyAccessState {
  customerId: string;
  userId: string | null;
  deleted: boolean;
  subscriptions: Record<string, SubscriptionState>;
}

function isSubscriptionEvent(type: string): type is SubscriptionEventType {
  return Object.prototype.hasOwnProperty.call(subscriptionEventSchemas, type);
}

function accessOf(state: SubscriptionState): SubscriptionAccess | null {
  if (!state.started) return null;
  return {
    subscriptionId: state.subscriptionId,
    status: state.status,
    items: state.items.map((item) => ({
      priceId: item.priceId,
      lookupKey: item.lookupKey,
      priceMetadata: item.priceMetadata,
    })),
    trialEnd: state.trialEnd,
    currentPeriodEnd: state.currentPeriodEnd,
    cancelAtPeriodEnd: state.cancelAtPeriodEnd,
    cancelAt: state.cancelAt,
    trialEndedUnpaid: state.trialEndedWithoutPayment,
    // Stripe's retries ran out: it marked the subscription unpaid, or cancelled it for payment failure.
    dunningExhausted:
      state.status === 'unpaid' ||
      (state.status === 'canceled' && state.cancellationReason === 'payment_failed'),
  };
}

/** The user id, when an event carries one (customer registered or profile changed). */
function userIdIn(data: Record<string, unknown>): string | null | undefined {
  if ('userId' in data) return typeof data.userId === 'string' ? data.userId : null;
  return undefined;
}

/**
 * Feature access as a pure fold over a customer's events. Unknown or malformed events are
 * logged and leave the state unchanged: a projection never throws on data.
 */
export function legacyEntitlementsProjection(
  catalog: PlanCatalog,
  logger: Logger,
): LegacyAccessProjection<LegacyAccessState> {
  return {
    initial: (customerId) => ({ customerId, userId: null, deleted: false, subscriptions: {} }),

    apply(state, event: BusEvent) {
      if (isSubscriptionEvent(event.type)) {
        const parsed = subscriptionEventSchemas[event.type].safeParse(event.data);
        if (!parsed.success) {
          logger.warn(
            { eventId: event.eventId, type: event.type, issues: parsed.error.issues.slice(0, 3) },
            'entitlements: skipped a malformed event',
          );
          return state;
        }
        const domainEvent = { type: event.type, data: parsed.data } as SubscriptionEvent;
        const id = domainEvent.data.subscriptionId;
        const previous = state.subscriptions[id] ?? initialSubscriptionState;
        return {
          ...state,
          subscriptions: { ...state.subscriptions, [id]: evolveSubscription(previous, domainEvent) },
        };
      }
      switch (event.type) {
        case 'CustomerRegistered':
        case 'CustomerProfileChanged':
        case 'CustomerSynced': {
          const userId = userIdIn(event.data);
          return userId === undefined ? state : { ...state, userId };
        }
        case 'CustomerDeleted':
          return { ...state, deleted: true };
        default:
          // Events that do not change access (payment methods, ...): nothing to do.
          return state;
      }
    },

    render(state, position) {
      const subscriptions = Object.values(state.subscriptions)
        .map(accessOf)
        .filter((access): access is SubscriptionAccess => access !== null)
        .sort((a, b) => (a.subscriptionId < b.subscriptionId ? -1 : 1));
      return computeEntitlements(
        catalog,
        { customerId: state.customerId, userId: state.userId, deleted: state.deleted },
        subscriptions,
        position,
      );
    },

    userIdOf: (state) => (state.deleted ? null : state.userId),
  };
}
