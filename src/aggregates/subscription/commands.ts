import { z } from 'zod';
import { customerId, isoInstant, subscriptionId } from '../shared/values';
import { discount, subscriptionSnapshot } from './model';

/**
 * Commands on a subscription. Everything a decision needs arrives in the command: the
 * Stripe snapshot or fact, when Stripe says it happened (`at`), and the Stripe event id
 * (the tie-breaker between two snapshots of the same second, and the idempotency key).
 */
const source = { at: isoInstant, stripeEventId: z.string(), stripeEventType: z.string() };
const target = { subscriptionId, customerId };

const invoice = {
  ...target,
  ...source,
  invoiceId: z.string(),
  attemptCount: z.number().int().nonnegative(),
  amountDue: z.number().int().nonnegative(),
  currency: z.string(),
};

export const subscriptionCommandSchemas = {
  /** A subscription snapshot (created, updated, deleted, paused, resumed): reconcile with it. */
  SyncSubscription: z.object({
    type: z.literal('SyncSubscription'),
    snapshot: subscriptionSnapshot,
    ...source,
  }),
  /** customer.subscription.trial_will_end: a snapshot, plus the notice that the trial ends soon. */
  NoteTrialWillEnd: z.object({
    type: z.literal('NoteTrialWillEnd'),
    snapshot: subscriptionSnapshot,
    ...source,
  }),
  RecordInvoicePaid: z.object({
    type: z.literal('RecordInvoicePaid'),
    ...invoice,
    amountPaid: z.number().int().nonnegative(),
    billingReason: z.string().nullable(),
    periodStart: isoInstant.nullable(),
    periodEnd: isoInstant.nullable(),
  }),
  RecordPaymentFailed: z.object({
    type: z.literal('RecordPaymentFailed'),
    ...invoice,
    nextPaymentAttempt: isoInstant.nullable(),
    declineCode: z.string().nullable(),
    failureMessage: z.string().nullable(),
  }),
  RecordPaymentActionRequired: z.object({
    type: z.literal('RecordPaymentActionRequired'),
    ...invoice,
    hostedInvoiceUrl: z.string().nullable(),
  }),
  ApplySubscriptionDiscount: z.object({
    type: z.literal('ApplySubscriptionDiscount'),
    ...target,
    ...source,
    discount,
  }),
  RemoveSubscriptionDiscount: z.object({
    type: z.literal('RemoveSubscriptionDiscount'),
    ...target,
    ...source,
    discountId: z.string(),
  }),
};

export const subscriptionCommand = z.discriminatedUnion('type', [
  subscriptionCommandSchemas.SyncSubscription,
  subscriptionCommandSchemas.NoteTrialWillEnd,
  subscriptionCommandSchemas.RecordInvoicePaid,
  subscriptionCommandSchemas.RecordPaymentFailed,
  subscriptionCommandSchemas.RecordPaymentActionRequired,
  subscriptionCommandSchemas.ApplySubscriptionDiscount,
  subscriptionCommandSchemas.RemoveSubscriptionDiscount,
]);
export type SubscriptionCommand = z.infer<typeof subscriptionCommand>;
export type SubscriptionCommandOf<K extends SubscriptionCommand['type']> = Extract<
  SubscriptionCommand,
  { type: K }
>;
