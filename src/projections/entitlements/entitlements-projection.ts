import {
  subscriptionEventSchemas,
  type SubscriptionEvent,
  type SubscriptionEventOf,
  type SubscriptionEventType,
} from '../../aggregates/subscription/events';
import type { SubscriptionStatus } from '../../aggregates/subscription/model';
import { trialEndedWithoutPayment } from '../../aggregates/subscription/state';
import type { BusEvent } from '../../bus/port';
import type { PlanCatalog } from '../../catalog/catalog';
import { assertNever } from '../../shared/decider';
import type { Logger } from '../../shared/logger';
import { computeEntitlements, type Entitlements, type SubscriptionAccess } from './compute-entitlements';

/**
 * Feature access keeps its own small document per customer: only what the access rules read,
 * never the write side's SubscriptionState (no invoices, discounts, MRR or idempotency memory).
 */
export interface SubscriptionAccessDocument {
  status: SubscriptionStatus;
  /** The prices, as much of them as maps a price to a tier (CONTRACTS.md: id, lookup key, metadata.tier). */
  items: { priceId: string; lookupKey: string | null; metadataTier: string | null }[];
  trialEnd: string | null;
  currentPeriodStart: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  cancelAt: string | null;
  endedAt: string | null;
  cancellationReason: string | null;
  /** Derived after every event from the fields above. */
  trialEndedUnpaid: boolean;
  dunningExhausted: boolean;
}

export interface CustomerAccessState {
  customerId: string;
  userId: string | null;
  deleted: boolean;
  /** Every subscription the customer's events named; null until its first snapshot arrived. */
  subscriptions: Record<string, SubscriptionAccessDocument | null>;
}

/** How feature access folds a customer's events: pure, so `?at=` and rebuilds fold the log with it. */
export interface CustomerAccessProjection<State> {
  initial(customerId: string): State;
  /** Never throws on unexpected data: answers the state unchanged (and logs). */
  apply(state: State, event: BusEvent): State;
  render(state: State, position: bigint): Entitlements;
  userIdOf(state: State): string | null;
}

export type EntitlementsProjection = CustomerAccessProjection<CustomerAccessState>;

function isSubscriptionEvent(type: string): type is SubscriptionEventType {
  return Object.prototype.hasOwnProperty.call(subscriptionEventSchemas, type);
}

type Snapshot = SubscriptionEventOf<'SubscriptionStarted' | 'SubscriptionSynced'>['data'];

function fromSnapshot(s: Snapshot): SubscriptionAccessDocument {
  return derive({
    status: s.status,
    items: s.items.map((item) => ({
      priceId: item.priceId,
      lookupKey: item.lookupKey,
      metadataTier: item.priceMetadata.tier ?? null,
    })),
    trialEnd: s.trialEnd,
    currentPeriodStart: s.currentPeriodStart,
    currentPeriodEnd: s.currentPeriodEnd,
    cancelAtPeriodEnd: s.cancelAtPeriodEnd,
    cancelAt: s.cancelAt,
    endedAt: s.endedAt,
    cancellationReason: s.cancellationReason,
    trialEndedUnpaid: false,
    dunningExhausted: false,
  });
}

function derive(s: SubscriptionAccessDocument): SubscriptionAccessDocument {
  return {
    ...s,
    trialEndedUnpaid: trialEndedWithoutPayment(s),
    // Stripe's retries ran out: it marked the subscription unpaid, or cancelled it for payment failure.
    dunningExhausted:
      s.status === 'unpaid' || (s.status === 'canceled' && s.cancellationReason === 'payment_failed'),
  };
}

/** One subscription event on what access knows of that subscription (null: no snapshot yet). */
export function evolveSubscriptionAccess(
  s: SubscriptionAccessDocument | null,
  event: SubscriptionEvent,
): SubscriptionAccessDocument | null {
  if (event.type === 'SubscriptionStarted' || event.type === 'SubscriptionSynced')
    return fromSnapshot(event.data);
  if (s === null) return null;
  switch (event.type) {
    case 'SubscriptionTrialConverted':
    case 'SubscriptionTrialEndedWithoutPayment':
    case 'SubscriptionBecamePastDue':
    case 'SubscriptionBecameUnpaid':
    case 'SubscriptionPaymentRecovered':
    case 'SubscriptionStatusChanged':
    case 'SubscriptionResumed':
    case 'SubscriptionPaused':
      return derive({ ...s, status: event.data.status });
    case 'SubscriptionItemsChanged':
      return fromItems(s, event.data.items);
    case 'SubscriptionCancellationScheduled':
      return derive({
        ...s,
        cancelAtPeriodEnd: event.data.cancelAtPeriodEnd,
        cancelAt: event.data.cancelAt,
        cancellationReason: event.data.reason,
      });
    case 'SubscriptionCancellationWithdrawn':
      return derive({ ...s, cancelAtPeriodEnd: false, cancelAt: null, cancellationReason: null });
    case 'SubscriptionCancelled':
      return derive({
        ...s,
        status: event.data.status,
        endedAt: event.data.endedAt,
        cancellationReason: event.data.reason,
      });
    case 'SubscriptionRenewed':
      return derive({
        ...s,
        currentPeriodStart: event.data.currentPeriodStart,
        currentPeriodEnd: event.data.currentPeriodEnd,
      });
    case 'SubscriptionTrialEndingSoon':
    case 'SubscriptionDiscountApplied':
    case 'SubscriptionDiscountRemoved':
    case 'SubscriptionInvoicePaid':
    case 'SubscriptionPaymentFailed':
    case 'SubscriptionPaymentActionRequired':
    case 'SubscriptionStaleEventIgnored':
      return s;
    default:
      return assertNever(event);
  }
}

function fromItems(
  s: SubscriptionAccessDocument,
  items: SubscriptionEventOf<'SubscriptionItemsChanged'>['data']['items'],
): SubscriptionAccessDocument {
  return {
    ...s,
    items: items.map((item) => ({
      priceId: item.priceId,
      lookupKey: item.lookupKey,
      metadataTier: item.priceMetadata.tier ?? null,
    })),
  };
}

function accessOf(subscriptionId: string, s: SubscriptionAccessDocument): SubscriptionAccess {
  const metadata = (tier: string | null): Record<string, string> => (tier === null ? {} : { tier });
  return {
    subscriptionId,
    status: s.status,
    items: s.items.map((item) => ({
      priceId: item.priceId,
      lookupKey: item.lookupKey,
      priceMetadata: metadata(item.metadataTier),
    })),
    trialEnd: s.trialEnd,
    currentPeriodEnd: s.currentPeriodEnd,
    cancelAtPeriodEnd: s.cancelAtPeriodEnd,
    cancelAt: s.cancelAt,
    trialEndedUnpaid: s.trialEndedUnpaid,
    dunningExhausted: s.dunningExhausted,
  };
}

/** The user id, when an event carries one (customer registered or profile changed). */
function userIdIn(data: Record<string, unknown>): string | null | undefined {
  if ('userId' in data) return typeof data.userId === 'string' ? data.userId : null;
  return undefined;
}

/**
 * Feature access as a pure fold over a customer's bus events into its own small document.
 * Unknown or malformed events are logged and leave the document unchanged: a projection
 * never throws on data.
 */
export function entitlementsProjection(catalog: PlanCatalog, logger: Logger): EntitlementsProjection {
  return {
    initial: (customerId) => ({ customerId, userId: null, deleted: false, subscriptions: {} }),

    apply(state, event) {
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
        const next = evolveSubscriptionAccess(state.subscriptions[id] ?? null, domainEvent);
        if (next === state.subscriptions[id]) return state;
        return { ...state, subscriptions: { ...state.subscriptions, [id]: next } };
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
          // Events that do not change access (payment methods, discounts, ...): nothing to do.
          return state;
      }
    },

    render(state, position) {
      const subscriptions = Object.entries(state.subscriptions)
        .filter((entry): entry is [string, SubscriptionAccessDocument] => entry[1] !== null)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([id, s]) => accessOf(id, s));
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
