import { z } from 'zod';
import { subscriptionStatus } from '../../aggregates/subscription/model';

/**
 * What we read of Stripe's payloads, across API versions. Unknown fields are dropped; what
 * moved between versions is accepted in both places (e.g. `current_period_*` on the
 * subscription or on its items, `coupon` on the discount or under `source`).
 */
export const unixSeconds = z.number().int().nonnegative();
/** An id, or the object when the field was expanded. */
export const ref = z
  .union([z.string(), z.object({ id: z.string() })])
  .transform((v) => (typeof v === 'string' ? v : v.id));
const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {});

export const stripeEventEnvelope = z.object({
  id: z.string().regex(/^evt_/, 'a Stripe event id (evt_...)'),
  object: z.literal('event').optional(),
  type: z.string().min(1),
  created: unixSeconds,
  livemode: z.boolean(),
  api_version: z.string().nullish(),
  data: z.object({
    object: z.record(z.string(), z.unknown()),
    previous_attributes: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type StripeEventEnvelope = z.infer<typeof stripeEventEnvelope>;

export const stripeCoupon = z.object({
  id: z.string(),
  percent_off: z.number().min(0).max(100).nullish(),
  amount_off: z.number().int().nonnegative().nullish(),
  currency: z.string().nullish(),
  duration: z.enum(['once', 'repeating', 'forever']),
  duration_in_months: z.number().int().nullish(),
});
export type StripeCoupon = z.infer<typeof stripeCoupon>;

/**
 * A Stripe object may say what it is (`object`); when it does, it must be the type we read.
 * Older fixtures and tests leave it out, so it is optional.
 */
const objectOf = <T extends string>(type: T) => z.literal(type).optional();

/**
 * The coupon may be missing (newer API versions send `source.coupon` as an id, or null):
 * still a discount; what can be recorded without its terms is decided by the translation.
 */
export const stripeDiscount = z.object({
  object: objectOf('discount'),
  id: z.string().nullish(),
  coupon: stripeCoupon.nullish(),
  source: z.object({ coupon: z.union([z.string(), stripeCoupon]).nullish() }).nullish(),
  customer: ref.nullish(),
  subscription: ref.nullish(),
  start: unixSeconds.nullish(),
  end: unixSeconds.nullish(),
});
export type StripeDiscount = z.infer<typeof stripeDiscount>;

const stripePrice = z.object({
  id: z.string(),
  unit_amount: z.number().int().nonnegative().nullish(),
  unit_amount_decimal: z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .nullish(),
  currency: z.string(),
  recurring: z.object({
    interval: z.enum(['day', 'week', 'month', 'year']),
    interval_count: z.number().int().positive(),
    usage_type: z.enum(['licensed', 'metered']).nullish(),
  }),
  lookup_key: z.string().nullish(),
  metadata,
  product: ref,
});

export const stripeSubscription = z.object({
  object: objectOf('subscription'),
  id: z.string().regex(/^sub_/, 'a Stripe subscription id (sub_...)'),
  customer: ref,
  status: subscriptionStatus,
  items: z.object({
    data: z.array(
      z.object({
        id: z.string(),
        price: stripePrice,
        quantity: z.number().int().nonnegative().nullish(),
        current_period_start: unixSeconds.nullish(),
        current_period_end: unixSeconds.nullish(),
      }),
    ),
  }),
  discount: stripeDiscount.nullish(),
  /** Newer API versions: ids, or objects when expanded. Ids alone carry no coupon terms and are skipped. */
  discounts: z.array(z.union([z.string(), stripeDiscount])).nullish(),
  created: unixSeconds,
  start_date: unixSeconds.nullish(),
  trial_start: unixSeconds.nullish(),
  trial_end: unixSeconds.nullish(),
  current_period_start: unixSeconds.nullish(),
  current_period_end: unixSeconds.nullish(),
  cancel_at_period_end: z.boolean().nullish(),
  cancel_at: unixSeconds.nullish(),
  canceled_at: unixSeconds.nullish(),
  ended_at: unixSeconds.nullish(),
  cancellation_details: z
    .object({ reason: z.string().nullish(), feedback: z.string().nullish(), comment: z.string().nullish() })
    .nullish(),
  pause_collection: z
    .object({
      behavior: z.enum(['keep_as_draft', 'mark_uncollectible', 'void']),
      resumes_at: unixSeconds.nullish(),
    })
    .nullish(),
});
export type StripeSubscription = z.infer<typeof stripeSubscription>;

export const stripeInvoice = z.object({
  object: objectOf('invoice'),
  id: z.string().regex(/^in_/, 'a Stripe invoice id (in_...)'),
  customer: ref,
  subscription: ref.nullish(),
  parent: z.object({ subscription_details: z.object({ subscription: ref }).nullish() }).nullish(),
  status: z.string().nullish(),
  attempt_count: z.number().int().nonnegative(),
  next_payment_attempt: unixSeconds.nullish(),
  amount_due: z.number().int().nonnegative(),
  amount_paid: z.number().int().nonnegative(),
  currency: z.string(),
  billing_reason: z.string().nullish(),
  period_start: unixSeconds.nullish(),
  period_end: unixSeconds.nullish(),
  hosted_invoice_url: z.string().nullish(),
  last_finalization_error: z
    .object({ code: z.string().nullish(), decline_code: z.string().nullish(), message: z.string().nullish() })
    .nullish(),
  payment_intent: z
    .union([
      z.string(),
      z.object({
        last_payment_error: z
          .object({
            code: z.string().nullish(),
            decline_code: z.string().nullish(),
            message: z.string().nullish(),
          })
          .nullish(),
      }),
    ])
    .nullish(),
});
export type StripeInvoice = z.infer<typeof stripeInvoice>;

export const stripeCustomer = z.object({
  object: objectOf('customer'),
  id: z.string(),
  email: z.string().nullish(),
  name: z.string().nullish(),
  phone: z.string().nullish(),
  address: z
    .object({
      line1: z.string().nullish(),
      line2: z.string().nullish(),
      city: z.string().nullish(),
      state: z.string().nullish(),
      postal_code: z.string().nullish(),
      country: z.string().nullish(),
    })
    .nullish(),
  metadata,
  created: unixSeconds,
  invoice_settings: z.object({ default_payment_method: ref.nullish() }).nullish(),
  deleted: z.boolean().nullish(),
});
export type StripeCustomer = z.infer<typeof stripeCustomer>;

export const stripePaymentMethod = z.object({
  object: objectOf('payment_method'),
  id: z.string().regex(/^pm_|^card_|^src_/, 'a payment method id (pm_...)'),
  type: z.string(),
  customer: ref.nullish(),
  card: z
    .object({
      brand: z.string().nullish(),
      last4: z.string().nullish(),
      exp_month: z.number().int().nullish(),
      exp_year: z.number().int().nullish(),
    })
    .nullish(),
});
export type StripePaymentMethod = z.infer<typeof stripePaymentMethod>;

/** zod issues as one line a person can act on. */
export function describeIssues(error: z.ZodError, what: string): string {
  const issues = error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return `invalid ${what}: ${issues.join('; ')}${error.issues.length > 5 ? `; and ${error.issues.length - 5} more` : ''}`;
}
