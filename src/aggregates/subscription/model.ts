import { z } from 'zod';
import { currencyCode, customerId, isoInstant, subscriptionId } from '../shared/values';

export const subscriptionStatus = z.enum([
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
]);
export type SubscriptionStatus = z.infer<typeof subscriptionStatus>;

/** Statuses a subscription never leaves (Stripe cannot reactivate them). */
export const isTerminalStatus = (status: SubscriptionStatus): boolean =>
  status === 'canceled' || status === 'incomplete_expired';

export const billingInterval = z.enum(['day', 'week', 'month', 'year']);
export type BillingInterval = z.infer<typeof billingInterval>;

export const subscriptionItem = z.object({
  itemId: z.string(),
  priceId: z.string(),
  productId: z.string(),
  lookupKey: z.string().nullable(),
  priceMetadata: z.record(z.string(), z.string()),
  /** Minor units per unit per billing period. Metered prices have no fixed amount and count 0. */
  unitAmount: z.number().int().nonnegative(),
  currency: currencyCode,
  interval: billingInterval,
  intervalCount: z.number().int().positive(),
  quantity: z.number().int().nonnegative(),
  metered: z.boolean(),
});
export type SubscriptionItem = z.infer<typeof subscriptionItem>;

export const discount = z.object({
  /** The discount id (di_...), or the coupon id on API versions without discount ids. */
  id: z.string(),
  couponId: z.string(),
  /** Percent off in basis points (12.5% = 1250), so decimal percentages stay exact. */
  percentOffBps: z.number().int().min(0).max(10000).nullable(),
  /** Amount off each invoice, minor units. */
  amountOff: z.number().int().nonnegative().nullable(),
  currency: currencyCode.nullable(),
  duration: z.enum(['once', 'repeating', 'forever']),
  durationInMonths: z.number().int().nullable(),
  end: isoInstant.nullable(),
});
export type Discount = z.infer<typeof discount>;

export const pauseCollection = z.object({
  behavior: z.enum(['keep_as_draft', 'mark_uncollectible', 'void']),
  resumesAt: isoInstant.nullable(),
});
export type PauseCollection = z.infer<typeof pauseCollection>;

/** The subscription as Stripe describes it at one instant, normalised across API versions. */
export const subscriptionSnapshot = z.object({
  subscriptionId,
  customerId,
  status: subscriptionStatus,
  items: z.array(subscriptionItem),
  discounts: z.array(discount),
  startedAt: isoInstant,
  trialStart: isoInstant.nullable(),
  trialEnd: isoInstant.nullable(),
  currentPeriodStart: isoInstant.nullable(),
  currentPeriodEnd: isoInstant.nullable(),
  cancelAtPeriodEnd: z.boolean(),
  cancelAt: isoInstant.nullable(),
  canceledAt: isoInstant.nullable(),
  endedAt: isoInstant.nullable(),
  /** Stripe's `cancellation_details.reason`: cancellation_requested, payment_failed, payment_disputed. */
  cancellationReason: z.string().nullable(),
  /** The customer's own words from the portal, when given. */
  cancellationFeedback: z.string().nullable(),
  pauseCollection: pauseCollection.nullable(),
});
export type SubscriptionSnapshot = z.infer<typeof subscriptionSnapshot>;
