import { assertNever, type Decider } from '../../shared/decider';
import { computeMrr } from '../money/mrr';
import { compareClocks, sameData, type SnapshotClock } from '../shared/clock';
import { compareInstants, type Money } from '../shared/values';
import type { SubscriptionCommand, SubscriptionCommandOf } from './commands';
import type { SubscriptionEvent, SubscriptionEventOf } from './events';
import { isTerminalStatus, type Discount, type SubscriptionSnapshot, type SubscriptionStatus } from './model';
import {
  effectiveDiscounts,
  evolveSubscription,
  initialSubscriptionState,
  type StartedSubscription,
  type SubscriptionState,
} from './state';

type Base = SubscriptionEventOf<'SubscriptionCancellationWithdrawn'>['data'];
type IgnoreReason = SubscriptionEventOf<'SubscriptionStaleEventIgnored'>['data']['reason'];
type Transition =
  | 'SubscriptionTrialConverted'
  | 'SubscriptionTrialEndedWithoutPayment'
  | 'SubscriptionBecamePastDue'
  | 'SubscriptionBecameUnpaid'
  | 'SubscriptionPaymentRecovered'
  | 'SubscriptionStatusChanged'
  | 'SubscriptionResumed';

const ZERO: Money = { amount: 0, currency: 'usd' };

export function subscriptionMrr(s: StartedSubscription): Money {
  return computeMrr(
    { status: s.status, items: s.items, discounts: s.discounts, pauseCollection: s.pauseCollection },
    s.mrr.currency,
  );
}

/** List value of the items, whatever the status and discounts: tells an upgrade from a downgrade during a trial too. */
const listValue = (items: StartedSubscription['items']): number =>
  computeMrr({ status: 'active', items, discounts: [], pauseCollection: null }).amount;

/** Accumulates the events of one decision, keeping the state they lead to at hand. */
class Decision {
  readonly events: SubscriptionEvent[] = [];
  constructor(public state: SubscriptionState) {}

  push(event: SubscriptionEvent): void {
    this.events.push(event);
    this.state = evolveSubscription(this.state, event);
  }

  /** An event that carries the MRR after it: computed from the state the event leads to. */
  pushWithMrr(make: (mrr: Money) => SubscriptionEvent): void {
    const after = evolveSubscription(this.state, make(ZERO));
    this.push(make(after.started ? subscriptionMrr(after) : ZERO));
  }

  get started(): StartedSubscription {
    if (!this.state.started) throw new Error('subscription not started');
    return this.state;
  }
}

function ignored(
  base: Base,
  stripeEventType: string,
  reason: IgnoreReason,
  knownAt: string | null,
): SubscriptionEvent {
  return {
    type: 'SubscriptionStaleEventIgnored',
    data: { ...base, stripeEventType, reason, eventAt: base.occurredAt, knownAt },
  };
}

function snapshotFields(snap: SubscriptionSnapshot) {
  const { subscriptionId: _s, customerId: _c, ...fields } = snap;
  return fields;
}

/** The fields a snapshot sets, as the state holds them: equal once the state has caught up. */
function viewOf(s: StartedSubscription): ReturnType<typeof snapshotFields> {
  return {
    status: s.status,
    items: s.items,
    discounts: s.snapshotDiscounts,
    startedAt: s.startedAt,
    trialStart: s.trialStart,
    trialEnd: s.trialEnd,
    currentPeriodStart: s.currentPeriodStart,
    currentPeriodEnd: s.currentPeriodEnd,
    cancelAtPeriodEnd: s.cancelAtPeriodEnd,
    cancelAt: s.cancelAt,
    canceledAt: s.canceledAt,
    endedAt: s.endedAt,
    cancellationReason: s.cancellationReason,
    cancellationFeedback: s.cancellationFeedback,
    pauseCollection: s.pauseCollection,
  };
}

function trialRanOut(snap: SubscriptionSnapshot): boolean {
  return (
    snap.trialEnd !== null && (snap.endedAt === null || compareInstants(snap.endedAt, snap.trialEnd) >= 0)
  );
}

function transitionType(from: SubscriptionStatus, to: SubscriptionStatus): Transition {
  if (from === 'paused') return 'SubscriptionResumed';
  if (from === 'trialing')
    return to === 'active'
      ? 'SubscriptionTrialConverted'
      : to === 'incomplete_expired'
        ? 'SubscriptionStatusChanged'
        : 'SubscriptionTrialEndedWithoutPayment';
  if (to === 'past_due') return 'SubscriptionBecamePastDue';
  if (to === 'unpaid') return 'SubscriptionBecameUnpaid';
  if (to === 'active' && (from === 'past_due' || from === 'unpaid')) return 'SubscriptionPaymentRecovered';
  return 'SubscriptionStatusChanged';
}

function reconcileDiscounts(d: Decision, base: Base, snap: SubscriptionSnapshot, at: string): void {
  const s = d.started;
  const overrides = isTerminalStatus(snap.status)
    ? {}
    : Object.fromEntries(
        Object.entries(s.discountOverrides).filter(([, o]) => compareInstants(o.at, at) > 0),
      );
  const target = effectiveDiscounts(snap.discounts, overrides);
  const before = new Map(s.discounts.map((x) => [x.id, x]));
  const after = new Map(target.map((x) => [x.id, x]));
  for (const id of before.keys()) {
    if (!after.has(id))
      d.pushWithMrr((mrr) => ({
        type: 'SubscriptionDiscountRemoved',
        data: { ...base, discountId: id, fromSnapshot: true, mrr },
      }));
  }
  for (const [id, discount] of after) {
    if (!sameData(before.get(id), discount))
      d.pushWithMrr((mrr) => ({
        type: 'SubscriptionDiscountApplied',
        data: { ...base, discount, fromSnapshot: true, mrr },
      }));
  }
}

function reconcileItems(d: Decision, base: Base, snap: SubscriptionSnapshot): void {
  const s = d.started;
  if (sameData(s.items, snap.items)) return;
  const before = listValue(s.items);
  const after = listValue(snap.items);
  const change = after > before ? 'upgrade' : after < before ? 'downgrade' : 'lateral';
  d.pushWithMrr((mrr) => ({
    type: 'SubscriptionItemsChanged',
    data: { ...base, previousItems: s.items, items: snap.items, change, previousMrr: s.mrr, mrr },
  }));
}

function reconcilePeriod(d: Decision, base: Base, snap: SubscriptionSnapshot): void {
  const s = d.started;
  if (isTerminalStatus(snap.status) || snap.currentPeriodEnd === null) return;
  if (s.currentPeriodEnd !== null && compareInstants(snap.currentPeriodEnd, s.currentPeriodEnd) <= 0) return;
  d.push({
    type: 'SubscriptionRenewed',
    data: {
      ...base,
      previousPeriodEnd: s.currentPeriodEnd,
      currentPeriodStart: snap.currentPeriodStart,
      currentPeriodEnd: snap.currentPeriodEnd,
    },
  });
}

function reconcileSchedule(d: Decision, base: Base, snap: SubscriptionSnapshot): void {
  const s = d.started;
  if (isTerminalStatus(snap.status)) return;
  if (s.cancelAtPeriodEnd === snap.cancelAtPeriodEnd && s.cancelAt === snap.cancelAt) return;
  if (snap.cancelAtPeriodEnd || snap.cancelAt !== null) {
    const endsAt = snap.cancelAtPeriodEnd ? snap.currentPeriodEnd : snap.cancelAt;
    d.push({
      type: 'SubscriptionCancellationScheduled',
      data: {
        ...base,
        cancelAtPeriodEnd: snap.cancelAtPeriodEnd,
        cancelAt: snap.cancelAt,
        endsAt,
        reason: snap.cancellationReason,
        feedback: snap.cancellationFeedback,
      },
    });
  } else {
    d.push({ type: 'SubscriptionCancellationWithdrawn', data: base });
  }
}

function reconcileStatus(d: Decision, base: Base, snap: SubscriptionSnapshot): void {
  const from = d.started.status;
  const to = snap.status;
  if (from !== to) {
    const trialLapsed = from === 'trialing' && (to === 'paused' || (to === 'canceled' && trialRanOut(snap)));
    if (trialLapsed)
      d.pushWithMrr((mrr) => ({
        type: 'SubscriptionTrialEndedWithoutPayment',
        data: { ...base, from, status: to, mrr },
      }));
    if (to === 'canceled') {
      d.pushWithMrr((mrr) => ({
        type: 'SubscriptionCancelled',
        data: {
          ...base,
          from,
          status: to,
          canceledAt: snap.canceledAt,
          endedAt: snap.endedAt,
          reason: snap.cancellationReason,
          feedback: snap.cancellationFeedback,
          mrr,
        },
      }));
    } else if (to === 'paused') {
      d.pushWithMrr((mrr) => ({
        type: 'SubscriptionPaused',
        data: { ...base, from, status: to, pauseCollection: snap.pauseCollection, mrr },
      }));
    } else {
      const type = transitionType(from, to);
      d.pushWithMrr((mrr) => ({ type, data: { ...base, from, status: to, mrr } }) as SubscriptionEvent);
    }
  }
  const s = d.started;
  if (isTerminalStatus(to) || to === 'paused' || sameData(s.pauseCollection, snap.pauseCollection)) return;
  if (snap.pauseCollection !== null) {
    d.pushWithMrr((mrr) => ({
      type: 'SubscriptionPaused',
      data: { ...base, from: s.status, status: s.status, pauseCollection: snap.pauseCollection, mrr },
    }));
  } else {
    d.pushWithMrr((mrr) => ({
      type: 'SubscriptionResumed',
      data: { ...base, from: s.status, status: s.status, mrr },
    }));
  }
}

/**
 * Reconcile with a snapshot: the first one starts the aggregate (whichever Stripe event
 * carried it, so early arrivals are not lost); a newer one becomes fine-grained events,
 * plus `SubscriptionSynced` when something changed that has no event of its own; an older
 * one is ignored explicitly; the same one again writes nothing.
 */
function sync(
  state: SubscriptionState,
  cmd: SubscriptionCommandOf<'SyncSubscription' | 'NoteTrialWillEnd'>,
): Decision {
  const d = new Decision(state);
  const snap = cmd.snapshot;
  const base: Base = {
    customerId: snap.customerId,
    subscriptionId: snap.subscriptionId,
    occurredAt: cmd.at,
    stripeEventId: cmd.stripeEventId,
  };
  if (state.recentStripeEventIds.includes(cmd.stripeEventId)) return d;
  if (!state.started) {
    d.pushWithMrr((mrr) => ({
      type: 'SubscriptionStarted',
      data: { ...snapshotFields(snap), ...base, mrr },
    }));
    return d;
  }
  const incoming: SnapshotClock = {
    terminal: isTerminalStatus(snap.status),
    at: cmd.at,
    stripeEventId: cmd.stripeEventId,
  };
  const order = compareClocks(incoming, state.lastSnapshot);
  if (order === 0) return d;
  if (order < 0) {
    const reason =
      state.lastSnapshot.terminal && !incoming.terminal ? 'subscription_ended' : 'stale_snapshot';
    d.push(ignored(base, cmd.stripeEventType, reason, state.lastSnapshot.at));
    return d;
  }
  reconcileDiscounts(d, base, snap, cmd.at);
  reconcileItems(d, base, snap);
  reconcilePeriod(d, base, snap);
  reconcileSchedule(d, base, snap);
  reconcileStatus(d, base, snap);
  const s = d.started;
  const caughtUp =
    d.events.length > 0 && sameData(viewOf(s), snapshotFields(snap)) && sameData(s.mrr, subscriptionMrr(s));
  if (!caughtUp)
    d.pushWithMrr((mrr) => ({ type: 'SubscriptionSynced', data: { ...snapshotFields(snap), ...base, mrr } }));
  return d;
}

function noteTrialWillEnd(
  state: SubscriptionState,
  cmd: SubscriptionCommandOf<'NoteTrialWillEnd'>,
): SubscriptionEvent[] {
  const d = sync(state, cmd);
  const s = d.state;
  const trialEnd = cmd.snapshot.trialEnd;
  if (
    !s.started ||
    s.status !== 'trialing' ||
    trialEnd === null ||
    s.trialEnd !== trialEnd ||
    s.trialEndingNotices.includes(trialEnd)
  )
    return d.events;
  d.push({
    type: 'SubscriptionTrialEndingSoon',
    data: {
      customerId: s.customerId,
      subscriptionId: s.subscriptionId,
      occurredAt: cmd.at,
      stripeEventId: cmd.stripeEventId,
      trialEnd,
    },
  });
  return d.events;
}

type InvoiceCommand = SubscriptionCommandOf<
  'RecordInvoicePaid' | 'RecordPaymentFailed' | 'RecordPaymentActionRequired'
>;

function invoiceBase(cmd: InvoiceCommand) {
  return {
    customerId: cmd.customerId,
    subscriptionId: cmd.subscriptionId,
    occurredAt: cmd.at,
    stripeEventId: cmd.stripeEventId,
    invoiceId: cmd.invoiceId,
    attemptCount: cmd.attemptCount,
    amountDue: cmd.amountDue,
    currency: cmd.currency,
  };
}

/** Invoice facts are keyed by invoice (and attempt): a paid invoice is final; an older attempt is stale. */
function recordInvoice(state: SubscriptionState, cmd: InvoiceCommand): SubscriptionEvent[] {
  if (state.recentStripeEventIds.includes(cmd.stripeEventId)) return [];
  const known = state.invoices[cmd.invoiceId];
  const base = invoiceBase(cmd);
  if (cmd.type === 'RecordInvoicePaid') {
    if (known?.status === 'paid') return [];
    const { amountPaid, billingReason, periodStart, periodEnd } = cmd;
    return [
      {
        type: 'SubscriptionInvoicePaid',
        data: { ...base, amountPaid, billingReason, periodStart, periodEnd },
      },
    ];
  }
  if (known?.status === 'paid') return [ignored(base, cmd.stripeEventType, 'invoice_already_paid', known.at)];
  const last =
    cmd.type === 'RecordPaymentFailed' ? known?.lastFailedAttempt : known?.lastActionRequiredAttempt;
  if (known && last !== undefined && cmd.attemptCount <= last) {
    return [
      ignored(
        base,
        cmd.stripeEventType,
        cmd.attemptCount === last ? 'already_in_effect' : 'older_payment_attempt',
        known.at,
      ),
    ];
  }
  if (cmd.type === 'RecordPaymentFailed') {
    const { nextPaymentAttempt, declineCode, failureMessage } = cmd;
    return [
      {
        type: 'SubscriptionPaymentFailed',
        data: { ...base, nextPaymentAttempt, declineCode, failureMessage },
      },
    ];
  }
  return [
    { type: 'SubscriptionPaymentActionRequired', data: { ...base, hostedInvoiceUrl: cmd.hostedInvoiceUrl } },
  ];
}

type DiscountCommand = SubscriptionCommandOf<'ApplySubscriptionDiscount' | 'RemoveSubscriptionDiscount'>;

/** customer.discount.* for this subscription: per discount, the latest word wins; a snapshot wins a tie. */
function recordDiscount(state: SubscriptionState, cmd: DiscountCommand): SubscriptionEvent[] {
  if (state.recentStripeEventIds.includes(cmd.stripeEventId)) return [];
  const base: Base = {
    customerId: cmd.customerId,
    subscriptionId: cmd.subscriptionId,
    occurredAt: cmd.at,
    stripeEventId: cmd.stripeEventId,
  };
  const id = cmd.type === 'ApplySubscriptionDiscount' ? cmd.discount.id : cmd.discountId;
  const wanted: Discount | null = cmd.type === 'ApplySubscriptionDiscount' ? cmd.discount : null;
  const override = state.discountOverrides[id];
  if (override?.stripeEventId === cmd.stripeEventId) return [];
  if (state.started && state.lastSnapshot.terminal)
    return [ignored(base, cmd.stripeEventType, 'subscription_ended', state.lastSnapshot.at)];
  const newerThanOverride =
    !override ||
    compareClocks(
      { terminal: false, at: cmd.at, stripeEventId: cmd.stripeEventId },
      { terminal: false, at: override.at, stripeEventId: override.stripeEventId },
    ) > 0;
  const newerThanSnapshot = !state.started || compareInstants(cmd.at, state.lastSnapshot.at) > 0;
  if (!newerThanOverride || !newerThanSnapshot) {
    const current = state.started ? (state.discounts.find((x) => x.id === id) ?? null) : null;
    const knownAt =
      override && !newerThanOverride ? override.at : state.started ? state.lastSnapshot.at : null;
    // Recorded even when it agrees with what we hold: a redelivery must find a trace, or it could decide otherwise later.
    return [
      ignored(
        base,
        cmd.stripeEventType,
        newerThanOverride && sameData(current, wanted) ? 'already_in_effect' : 'stale_discount_event',
        knownAt,
      ),
    ];
  }
  const d = new Decision(state);
  if (wanted)
    d.pushWithMrr((mrr) => ({
      type: 'SubscriptionDiscountApplied',
      data: { ...base, discount: wanted, fromSnapshot: false, mrr: state.started ? mrr : null },
    }));
  else
    d.pushWithMrr((mrr) => ({
      type: 'SubscriptionDiscountRemoved',
      data: { ...base, discountId: id, fromSnapshot: false, mrr: state.started ? mrr : null },
    }));
  return d.events;
}

export function decideSubscription(
  command: SubscriptionCommand,
  state: SubscriptionState,
): SubscriptionEvent[] {
  switch (command.type) {
    case 'SyncSubscription':
      return sync(state, command).events;
    case 'NoteTrialWillEnd':
      return noteTrialWillEnd(state, command);
    case 'RecordInvoicePaid':
    case 'RecordPaymentFailed':
    case 'RecordPaymentActionRequired':
      return recordInvoice(state, command);
    case 'ApplySubscriptionDiscount':
    case 'RemoveSubscriptionDiscount':
      return recordDiscount(state, command);
    default:
      return assertNever(command);
  }
}

export const subscriptionDecider: Decider<SubscriptionCommand, SubscriptionEvent, SubscriptionState> = {
  initialState: initialSubscriptionState,
  evolve: evolveSubscription,
  decide: decideSubscription,
};
