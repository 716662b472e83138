import { z } from 'zod';
import type { EventUnionOf } from '../shared/event-union';
import { customerId, isoInstant, money, subscriptionId } from '../shared/values';
import {
  discount,
  pauseCollection,
  subscriptionItem,
  subscriptionSnapshot,
  subscriptionStatus,
} from './model';

/**
 * Subscription events (schema version 1). Every event names its customer (the Kafka key),
 * its subscription, when it happened (`occurredAt`: the Stripe event's `created`) and the
 * Stripe event that caused it (`stripeEventId`, null when nothing from Stripe did).
 * Each event that changes what is billed carries `mrr`: the subscription's MRR after it.
 */
const base = z.object({
  customerId,
  subscriptionId,
  occurredAt: isoInstant,
  stripeEventId: z.string().nullable(),
});

const statusTransition = base.extend({ from: subscriptionStatus, status: subscriptionStatus, mrr: money });

const invoiceFact = base.extend({
  invoiceId: z.string(),
  attemptCount: z.number().int().nonnegative(),
  amountDue: z.number().int().nonnegative(),
  currency: z.string(),
});

export const subscriptionEventSchemas = {
  /** The first snapshot we saw (created, or any later one that arrived first): the whole subscription. */
  SubscriptionStarted: subscriptionSnapshot
    .omit({ subscriptionId: true, customerId: true })
    .extend(base.shape)
    .extend({ mrr: money }),
  SubscriptionTrialEndingSoon: base.extend({ trialEnd: isoInstant }),
  SubscriptionTrialConverted: statusTransition,
  SubscriptionTrialEndedWithoutPayment: statusTransition,
  SubscriptionItemsChanged: base.extend({
    previousItems: z.array(subscriptionItem),
    items: z.array(subscriptionItem),
    /** By MRR: up is an upgrade, down a downgrade, equal (e.g. while trialing) lateral. */
    change: z.enum(['upgrade', 'downgrade', 'lateral']),
    previousMrr: money,
    mrr: money,
  }),
  SubscriptionDiscountApplied: base.extend({
    discount,
    /** True when read from a subscription snapshot, false when from a customer.discount.* event. */
    fromSnapshot: z.boolean(),
    mrr: money.nullable(),
  }),
  SubscriptionDiscountRemoved: base.extend({
    discountId: z.string(),
    fromSnapshot: z.boolean(),
    mrr: money.nullable(),
  }),
  SubscriptionCancellationScheduled: base.extend({
    cancelAtPeriodEnd: z.boolean(),
    cancelAt: isoInstant.nullable(),
    /** When access and billing will end. */
    endsAt: isoInstant.nullable(),
    reason: z.string().nullable(),
    feedback: z.string().nullable(),
  }),
  SubscriptionCancellationWithdrawn: base,
  SubscriptionCancelled: base.extend({
    from: subscriptionStatus,
    status: subscriptionStatus,
    canceledAt: isoInstant.nullable(),
    endedAt: isoInstant.nullable(),
    reason: z.string().nullable(),
    feedback: z.string().nullable(),
    mrr: money,
  }),
  SubscriptionPaused: base.extend({
    from: subscriptionStatus,
    status: subscriptionStatus,
    pauseCollection: pauseCollection.nullable(),
    mrr: money,
  }),
  SubscriptionResumed: base.extend({ from: subscriptionStatus, status: subscriptionStatus, mrr: money }),
  SubscriptionRenewed: base.extend({
    previousPeriodEnd: isoInstant.nullable(),
    currentPeriodStart: isoInstant.nullable(),
    currentPeriodEnd: isoInstant,
  }),
  SubscriptionBecamePastDue: statusTransition,
  SubscriptionBecameUnpaid: statusTransition,
  /** Back to active after past_due or unpaid. */
  SubscriptionPaymentRecovered: statusTransition,
  /** Any other status move (e.g. incomplete -> active, incomplete -> incomplete_expired). */
  SubscriptionStatusChanged: statusTransition,
  SubscriptionInvoicePaid: invoiceFact.extend({
    amountPaid: z.number().int().nonnegative(),
    billingReason: z.string().nullable(),
    periodStart: isoInstant.nullable(),
    periodEnd: isoInstant.nullable(),
  }),
  SubscriptionPaymentFailed: invoiceFact.extend({
    nextPaymentAttempt: isoInstant.nullable(),
    declineCode: z.string().nullable(),
    failureMessage: z.string().nullable(),
  }),
  SubscriptionPaymentActionRequired: invoiceFact.extend({ hostedInvoiceUrl: z.string().nullable() }),
  /**
   * A newer snapshot whose other changes have no event of their own (trial moved, period
   * dates, nothing at all): the aggregate takes the whole snapshot, so state always equals
   * the latest snapshot Stripe sent.
   */
  SubscriptionSynced: subscriptionSnapshot
    .omit({ subscriptionId: true, customerId: true })
    .extend(base.shape)
    .extend({ mrr: money }),
  /** A Stripe event that says nothing new: older than what we know, or about an ended subscription. */
  SubscriptionStaleEventIgnored: base.extend({
    stripeEventType: z.string(),
    reason: z.enum([
      'stale_snapshot',
      'subscription_ended',
      'invoice_already_paid',
      'older_payment_attempt',
      'stale_discount_event',
      'already_in_effect',
    ]),
    eventAt: isoInstant,
    knownAt: isoInstant.nullable(),
  }),
};

export type SubscriptionEventType = keyof typeof subscriptionEventSchemas;
export type SubscriptionEvent = EventUnionOf<typeof subscriptionEventSchemas>;
export type SubscriptionEventOf<K extends SubscriptionEventType> = Extract<SubscriptionEvent, { type: K }>;

/** Events decided from a subscription snapshot: they move the aggregate's snapshot clock. */
export const SNAPSHOT_EVENT_TYPES: ReadonlySet<SubscriptionEventType> = new Set<SubscriptionEventType>([
  'SubscriptionStarted',
  'SubscriptionTrialConverted',
  'SubscriptionTrialEndedWithoutPayment',
  'SubscriptionItemsChanged',
  'SubscriptionCancellationScheduled',
  'SubscriptionCancellationWithdrawn',
  'SubscriptionCancelled',
  'SubscriptionPaused',
  'SubscriptionResumed',
  'SubscriptionRenewed',
  'SubscriptionBecamePastDue',
  'SubscriptionBecameUnpaid',
  'SubscriptionPaymentRecovered',
  'SubscriptionStatusChanged',
  'SubscriptionSynced',
]);
