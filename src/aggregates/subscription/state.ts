import { assertNever } from '../../shared/decider';
import { compareClocks, rememberId, type SnapshotClock } from '../shared/clock';
import { compareInstants } from '../shared/values';
import type { Money } from '../shared/values';
import { SNAPSHOT_EVENT_TYPES, type SubscriptionEvent, type SubscriptionEventOf } from './events';
import { isTerminalStatus, type Discount, type SubscriptionSnapshot } from './model';

/** What we know of one invoice of the subscription: enough to tell a new fact from a repeat. */
export type InvoiceRecord =
  | { status: 'paid'; attemptCount: number; at: string }
  | {
      status: 'open';
      attemptCount: number;
      lastFailedAttempt: number;
      lastActionRequiredAttempt: number;
      at: string;
    };

/**
 * A discount set or removed by a customer.discount.* event newer than the latest snapshot.
 * Per discount, the latest word wins (a snapshot at the same second wins the tie).
 */
export interface DiscountOverride {
  present: boolean;
  at: string;
  stripeEventId: string;
  discount: Discount | null;
}

interface Bookkeeping {
  invoices: Record<string, InvoiceRecord>;
  discountOverrides: Record<string, DiscountOverride>;
  /** The last Stripe events that wrote here: a redelivery writes nothing (the handler also checks the whole stream). */
  recentStripeEventIds: string[];
  /** Trial ends already announced (trial_will_end), so a repeat announces nothing. */
  trialEndingNotices: string[];
}

export type SubscriptionFields = Omit<SubscriptionSnapshot, 'discounts'>;

export interface NotStartedSubscription extends Bookkeeping {
  started: false;
  /** Known from invoice or discount facts that arrived before any snapshot. */
  subscriptionId: string | null;
  customerId: string | null;
}

export interface StartedSubscription extends Bookkeeping, SubscriptionFields {
  started: true;
  /** Discounts as the latest snapshot lists them. */
  snapshotDiscounts: Discount[];
  /** Discounts in force: the snapshot's, corrected by newer discount events; sorted by id. */
  discounts: Discount[];
  /** MRR after the last event, as that event recorded it. */
  mrr: Money;
  /** The latest Stripe snapshot applied (its event's `created` and id). */
  lastSnapshot: SnapshotClock;
  /** The trial ran out without a payment (derived from the snapshot, for access rules). */
  trialEndedWithoutPayment: boolean;
}

export type SubscriptionState = NotStartedSubscription | StartedSubscription;

export const initialSubscriptionState: SubscriptionState = {
  started: false,
  subscriptionId: null,
  customerId: null,
  invoices: {},
  discountOverrides: {},
  recentStripeEventIds: [],
  trialEndingNotices: [],
};

const MAX_TRACKED_INVOICES = 100;

export function effectiveDiscounts(
  snapshotDiscounts: readonly Discount[],
  overrides: Record<string, DiscountOverride>,
): Discount[] {
  const byId = new Map(snapshotDiscounts.map((d) => [d.id, d]));
  for (const [id, override] of Object.entries(overrides)) {
    if (override.present && override.discount) byId.set(id, override.discount);
    else byId.delete(id);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The trial ran out without a payment (read models that keep their own document use it too). */
export function trialEndedWithoutPayment(
  s: Pick<SubscriptionFields, 'trialEnd' | 'currentPeriodStart' | 'status' | 'endedAt'>,
): boolean {
  if (s.trialEnd === null) return false;
  if (s.currentPeriodStart !== null && compareInstants(s.currentPeriodStart, s.trialEnd) > 0) return false;
  switch (s.status) {
    case 'past_due':
    case 'unpaid':
    case 'incomplete':
    case 'incomplete_expired':
    case 'paused':
      return true;
    case 'canceled':
      return s.endedAt !== null && compareInstants(s.endedAt, s.trialEnd) >= 0;
    default:
      return false;
  }
}

function withDerived(s: StartedSubscription): StartedSubscription {
  const overrides = s.lastSnapshot.terminal
    ? {}
    : Object.fromEntries(
        Object.entries(s.discountOverrides).filter(([, o]) => compareInstants(o.at, s.lastSnapshot.at) > 0),
      );
  return {
    ...s,
    discountOverrides: overrides,
    discounts: effectiveDiscounts(s.snapshotDiscounts, overrides),
    trialEndedWithoutPayment: trialEndedWithoutPayment(s),
  };
}

function clockOf(event: SubscriptionEvent, status: SubscriptionFields['status']): SnapshotClock {
  return {
    terminal: isTerminalStatus(status),
    at: event.data.occurredAt,
    stripeEventId: event.data.stripeEventId ?? '',
  };
}

function fromSnapshotEvent(
  state: SubscriptionState,
  e: SubscriptionEventOf<'SubscriptionStarted' | 'SubscriptionSynced'>,
): StartedSubscription {
  const { occurredAt: _at, stripeEventId: _id, mrr, discounts, ...fields } = e.data;
  return {
    ...state,
    ...fields,
    started: true,
    snapshotDiscounts: discounts,
    discounts,
    mrr,
    lastSnapshot: clockOf(e, fields.status),
    trialEndedWithoutPayment: false,
  };
}

function recordInvoice(
  invoices: Record<string, InvoiceRecord>,
  id: string,
  record: InvoiceRecord,
): Record<string, InvoiceRecord> {
  const next = { ...invoices, [id]: record };
  const ids = Object.keys(next);
  if (ids.length <= MAX_TRACKED_INVOICES) return next;
  const oldest = ids.reduce((a, b) => (compareInstants(next[a]!.at, next[b]!.at) <= 0 ? a : b));
  delete next[oldest];
  return next;
}

function openInvoice(
  state: SubscriptionState,
  id: string,
  at: string,
): Extract<InvoiceRecord, { status: 'open' }> | null {
  const known = state.invoices[id];
  if (known?.status === 'paid') return null;
  return known ?? { status: 'open', attemptCount: 0, lastFailedAttempt: 0, lastActionRequiredAttempt: 0, at };
}

function evolveStarted(s: StartedSubscription, event: SubscriptionEvent): StartedSubscription {
  switch (event.type) {
    case 'SubscriptionStarted':
    case 'SubscriptionSynced':
      return fromSnapshotEvent(s, event);
    case 'SubscriptionTrialConverted':
    case 'SubscriptionTrialEndedWithoutPayment':
    case 'SubscriptionBecamePastDue':
    case 'SubscriptionBecameUnpaid':
    case 'SubscriptionPaymentRecovered':
    case 'SubscriptionStatusChanged':
    case 'SubscriptionResumed':
      return {
        ...s,
        status: event.data.status,
        mrr: event.data.mrr,
        pauseCollection: event.type === 'SubscriptionResumed' ? null : s.pauseCollection,
      };
    case 'SubscriptionPaused':
      return {
        ...s,
        status: event.data.status,
        pauseCollection: event.data.pauseCollection,
        mrr: event.data.mrr,
      };
    case 'SubscriptionItemsChanged':
      return { ...s, items: event.data.items, mrr: event.data.mrr };
    case 'SubscriptionDiscountApplied':
      if (!event.data.fromSnapshot) return s;
      return {
        ...s,
        snapshotDiscounts: [
          ...s.snapshotDiscounts.filter((d) => d.id !== event.data.discount.id),
          event.data.discount,
        ],
        mrr: event.data.mrr ?? s.mrr,
      };
    case 'SubscriptionDiscountRemoved':
      if (!event.data.fromSnapshot) return s;
      return {
        ...s,
        snapshotDiscounts: s.snapshotDiscounts.filter((d) => d.id !== event.data.discountId),
        mrr: event.data.mrr ?? s.mrr,
      };
    case 'SubscriptionCancellationScheduled':
      return {
        ...s,
        cancelAtPeriodEnd: event.data.cancelAtPeriodEnd,
        cancelAt: event.data.cancelAt,
        cancellationReason: event.data.reason,
        cancellationFeedback: event.data.feedback,
      };
    case 'SubscriptionCancellationWithdrawn':
      return {
        ...s,
        cancelAtPeriodEnd: false,
        cancelAt: null,
        cancellationReason: null,
        cancellationFeedback: null,
      };
    case 'SubscriptionCancelled':
      return {
        ...s,
        status: event.data.status,
        canceledAt: event.data.canceledAt,
        endedAt: event.data.endedAt,
        cancellationReason: event.data.reason,
        cancellationFeedback: event.data.feedback,
        mrr: event.data.mrr,
      };
    case 'SubscriptionRenewed':
      return {
        ...s,
        currentPeriodStart: event.data.currentPeriodStart,
        currentPeriodEnd: event.data.currentPeriodEnd,
      };
    case 'SubscriptionTrialEndingSoon':
    case 'SubscriptionInvoicePaid':
    case 'SubscriptionPaymentFailed':
    case 'SubscriptionPaymentActionRequired':
    case 'SubscriptionStaleEventIgnored':
      return s;
    default:
      return assertNever(event);
  }
}

/** Facts every state records the same way, started or not. */
function evolveBookkeeping<S extends SubscriptionState>(state: S, event: SubscriptionEvent): S {
  const s = event.data.stripeEventId
    ? { ...state, recentStripeEventIds: rememberId(state.recentStripeEventIds, event.data.stripeEventId) }
    : state;
  switch (event.type) {
    case 'SubscriptionInvoicePaid':
      return {
        ...s,
        invoices: recordInvoice(s.invoices, event.data.invoiceId, {
          status: 'paid',
          attemptCount: event.data.attemptCount,
          at: event.data.occurredAt,
        }),
      };
    case 'SubscriptionPaymentFailed':
    case 'SubscriptionPaymentActionRequired': {
      const open = openInvoice(s, event.data.invoiceId, event.data.occurredAt);
      if (!open) return s;
      const attempt = event.data.attemptCount;
      const record =
        event.type === 'SubscriptionPaymentFailed'
          ? { ...open, lastFailedAttempt: Math.max(open.lastFailedAttempt, attempt) }
          : { ...open, lastActionRequiredAttempt: Math.max(open.lastActionRequiredAttempt, attempt) };
      // Maxima only, so the record is the same whatever order the facts came in.
      const at = compareInstants(open.at, event.data.occurredAt) > 0 ? open.at : event.data.occurredAt;
      return {
        ...s,
        invoices: recordInvoice(s.invoices, event.data.invoiceId, {
          ...record,
          attemptCount: Math.max(open.attemptCount, attempt),
          at,
        }),
      };
    }
    case 'SubscriptionDiscountApplied':
    case 'SubscriptionDiscountRemoved': {
      if (event.data.fromSnapshot) return s;
      const applied = event.type === 'SubscriptionDiscountApplied' ? event.data.discount : null;
      const id = applied
        ? applied.id
        : (event as SubscriptionEventOf<'SubscriptionDiscountRemoved'>).data.discountId;
      const override: DiscountOverride = {
        present: applied !== null,
        at: event.data.occurredAt,
        stripeEventId: event.data.stripeEventId ?? '',
        discount: applied,
      };
      return { ...s, discountOverrides: { ...s.discountOverrides, [id]: override } };
    }
    case 'SubscriptionTrialEndingSoon':
      return { ...s, trialEndingNotices: rememberId(s.trialEndingNotices, event.data.trialEnd, 10) };
    default:
      return s;
  }
}

/** Pure and total: the read models fold subscription events with it too. */
export function evolveSubscription(state: SubscriptionState, event: SubscriptionEvent): SubscriptionState {
  const booked = evolveBookkeeping(state, event);
  let next: SubscriptionState;
  if (booked.started) {
    next = evolveStarted(booked, event);
  } else if (event.type === 'SubscriptionStarted' || event.type === 'SubscriptionSynced') {
    next = fromSnapshotEvent(booked, event);
  } else {
    next = { ...booked, subscriptionId: event.data.subscriptionId, customerId: event.data.customerId };
  }
  if (!next.started) return next;
  const movesClock =
    SNAPSHOT_EVENT_TYPES.has(event.type) ||
    ((event.type === 'SubscriptionDiscountApplied' || event.type === 'SubscriptionDiscountRemoved') &&
      event.data.fromSnapshot);
  if (movesClock) {
    const clock = clockOf(event, next.status);
    if (compareClocks(clock, next.lastSnapshot) > 0) next = { ...next, lastSnapshot: clock };
  }
  return withDerived(next);
}
