/**
 * Builders for realistic Stripe webhook payloads (shapes as the Stripe API sends them).
 * Two API shapes: `legacy` (2024-06-20: `current_period_*` and `discount` on the subscription,
 * `subscription` on the invoice) and `basil` (2025-03-31: periods on the items, `discounts`
 * as a list, `parent.subscription_details` on the invoice).
 */

export type ApiShape = 'legacy' | 'basil';
export const API_VERSIONS: Record<ApiShape, string> = { legacy: '2024-06-20', basil: '2025-03-31.basil' };

let counter = 0;
/** A fresh Stripe-looking id: `evt_t000001`, `sub_t000002`... */
export function fakeId(prefix: string): string {
  counter += 1;
  return `${prefix}_t${String(counter).padStart(6, '0')}`;
}

export const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
export const DAY = 86_400;
export const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

export interface StripeEvent<T = Record<string, unknown>> {
  id: string;
  object: 'event';
  type: string;
  api_version: string;
  created: number;
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  data: { object: T; previous_attributes?: Record<string, unknown> };
}

export interface EventOptions {
  id?: string;
  created?: number;
  apiShape?: ApiShape;
  previousAttributes?: Record<string, unknown>;
}

export function stripeEvent<T extends object>(
  type: string,
  object: T,
  options: EventOptions = {},
): StripeEvent<T> {
  return {
    id: options.id ?? fakeId('evt'),
    object: 'event',
    type,
    api_version: API_VERSIONS[options.apiShape ?? 'legacy'],
    created: options.created ?? T0,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: {
      object,
      ...(options.previousAttributes ? { previous_attributes: options.previousAttributes } : {}),
    },
  };
}

// ---------------------------------------------------------------- customer

export interface CustomerSpec {
  id?: string;
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  address?: { line1?: string; city?: string; postal_code?: string; country?: string } | null;
  metadata?: Record<string, string>;
  created?: number;
  defaultPaymentMethod?: string | null;
}

export function customerObject(spec: CustomerSpec = {}) {
  const a = spec.address;
  return {
    id: spec.id ?? 'cus_T1',
    object: 'customer' as const,
    address: a
      ? {
          city: a.city ?? null,
          country: a.country ?? null,
          line1: a.line1 ?? null,
          line2: null,
          postal_code: a.postal_code ?? null,
          state: null,
        }
      : null,
    balance: 0,
    created: spec.created ?? T0,
    currency: 'usd',
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: spec.email === undefined ? 'jane@example.com' : spec.email,
    invoice_prefix: 'ABC123',
    invoice_settings: {
      custom_fields: null,
      default_payment_method: spec.defaultPaymentMethod ?? null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: spec.metadata ?? { user_id: 'u_42' },
    name: spec.name === undefined ? 'Jane Doe' : spec.name,
    phone: spec.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export const customerCreatedEvent = (spec: CustomerSpec = {}, options: EventOptions = {}) =>
  stripeEvent('customer.created', customerObject(spec), options);
export const customerUpdatedEvent = (spec: CustomerSpec = {}, options: EventOptions = {}) =>
  stripeEvent('customer.updated', customerObject(spec), options);
export const customerDeletedEvent = (spec: CustomerSpec = {}, options: EventOptions = {}) =>
  stripeEvent('customer.deleted', { ...customerObject(spec), deleted: true }, options);

// ---------------------------------------------------------------- prices, discounts

export interface PriceSpec {
  id?: string;
  unitAmount?: number | null;
  unitAmountDecimal?: string;
  currency?: string;
  interval?: 'day' | 'week' | 'month' | 'year';
  intervalCount?: number;
  lookupKey?: string | null;
  metadata?: Record<string, string>;
  product?: string;
  metered?: boolean;
}

export function priceObject(spec: PriceSpec = {}) {
  const unitAmount = spec.unitAmount === undefined ? 2000 : spec.unitAmount;
  return {
    id: spec.id ?? 'price_premium_monthly',
    object: 'price' as const,
    active: true,
    billing_scheme: 'per_unit',
    created: T0 - 30 * DAY,
    currency: spec.currency ?? 'usd',
    livemode: false,
    lookup_key: spec.lookupKey === undefined ? null : spec.lookupKey,
    metadata: spec.metadata ?? {},
    nickname: null,
    product: spec.product ?? 'prod_premium',
    recurring: {
      aggregate_usage: null,
      interval: spec.interval ?? 'month',
      interval_count: spec.intervalCount ?? 1,
      meter: null,
      trial_period_days: null,
      usage_type: spec.metered ? 'metered' : 'licensed',
    },
    tax_behavior: 'unspecified',
    tiers_mode: null,
    type: 'recurring',
    unit_amount: unitAmount,
    unit_amount_decimal: spec.unitAmountDecimal ?? (unitAmount === null ? null : String(unitAmount)),
  };
}

export interface CouponSpec {
  id?: string;
  percentOff?: number | null;
  amountOff?: number | null;
  currency?: string | null;
  duration?: 'once' | 'repeating' | 'forever';
  durationInMonths?: number | null;
}

export function couponObject(spec: CouponSpec = {}) {
  return {
    id: spec.id ?? 'SAVE20',
    object: 'coupon' as const,
    amount_off: spec.amountOff ?? null,
    created: T0 - 60 * DAY,
    currency: spec.amountOff ? (spec.currency ?? 'usd') : (spec.currency ?? null),
    duration: spec.duration ?? 'forever',
    duration_in_months: spec.durationInMonths ?? null,
    livemode: false,
    max_redemptions: null,
    metadata: {},
    name: null,
    percent_off: spec.amountOff ? null : spec.percentOff === undefined ? 20 : spec.percentOff,
    redeem_by: null,
    times_redeemed: 1,
    valid: true,
  };
}

export interface DiscountSpec {
  id?: string;
  coupon?: CouponSpec;
  customer?: string;
  subscription?: string | null;
  start?: number;
  end?: number | null;
}

export function discountObject(spec: DiscountSpec = {}, apiShape: ApiShape = 'legacy') {
  const coupon = couponObject(spec.coupon);
  const common = {
    id: spec.id ?? `di_${coupon.id}`,
    object: 'discount' as const,
    checkout_session: null,
    customer: spec.customer ?? 'cus_T1',
    end: spec.end ?? null,
    invoice: null,
    invoice_item: null,
    promotion_code: null,
    start: spec.start ?? T0,
    subscription: spec.subscription === undefined ? null : spec.subscription,
  };
  return apiShape === 'basil' ? { ...common, source: { coupon, type: 'coupon' } } : { ...common, coupon };
}

export const discountCreatedEvent = (spec: DiscountSpec = {}, options: EventOptions = {}) =>
  stripeEvent('customer.discount.created', discountObject(spec, options.apiShape), options);
export const discountDeletedEvent = (spec: DiscountSpec = {}, options: EventOptions = {}) =>
  stripeEvent('customer.discount.deleted', discountObject(spec, options.apiShape), options);

// ---------------------------------------------------------------- subscription

export type SubscriptionStatus =
  'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'canceled' | 'unpaid' | 'paused';

export interface SubscriptionItemSpec {
  id?: string;
  price?: PriceSpec;
  quantity?: number;
}

export interface SubscriptionSpec {
  id?: string;
  customer?: string;
  status?: SubscriptionStatus;
  items?: SubscriptionItemSpec[];
  created?: number;
  startDate?: number;
  trialStart?: number | null;
  trialEnd?: number | null;
  currentPeriodStart?: number;
  currentPeriodEnd?: number;
  cancelAtPeriodEnd?: boolean;
  cancelAt?: number | null;
  canceledAt?: number | null;
  endedAt?: number | null;
  cancellationReason?: 'cancellation_requested' | 'payment_failed' | 'payment_disputed' | null;
  cancellationFeedback?: string | null;
  discounts?: DiscountSpec[];
  pauseCollection?: {
    behavior: 'keep_as_draft' | 'mark_uncollectible' | 'void';
    resumesAt?: number | null;
  } | null;
  metadata?: Record<string, string>;
}

export function subscriptionObject(spec: SubscriptionSpec = {}, apiShape: ApiShape = 'legacy') {
  const id = spec.id ?? 'sub_T1';
  const customer = spec.customer ?? 'cus_T1';
  const created = spec.created ?? T0;
  const periodStart = spec.currentPeriodStart ?? created;
  const items = (spec.items ?? [{}]).map((item, i) => {
    const price = priceObject(item.price);
    const periodEnd =
      spec.currentPeriodEnd ?? periodStart + (price.recurring.interval === 'year' ? 365 : 30) * DAY;
    return {
      id: item.id ?? `si_${id.slice(4)}_${i}`,
      object: 'subscription_item' as const,
      created,
      metadata: {},
      plan: {
        id: price.id,
        object: 'plan',
        amount: price.unit_amount,
        currency: price.currency,
        interval: price.recurring.interval,
        interval_count: price.recurring.interval_count,
        product: price.product,
      },
      price,
      quantity: price.recurring.usage_type === 'metered' ? undefined : (item.quantity ?? 1),
      subscription: id,
      tax_rates: [],
      ...(apiShape === 'basil' ? { current_period_start: periodStart, current_period_end: periodEnd } : {}),
    };
  });
  const firstEnd = items[0]?.plan.interval === 'year' ? periodStart + 365 * DAY : periodStart + 30 * DAY;
  const periodEnd = spec.currentPeriodEnd ?? firstEnd;
  const discounts = (spec.discounts ?? []).map((d) =>
    discountObject({ customer, subscription: id, ...d }, apiShape),
  );
  const status = spec.status ?? 'active';
  return {
    id,
    object: 'subscription' as const,
    application: null,
    billing_cycle_anchor: periodStart,
    cancel_at: spec.cancelAt ?? null,
    cancel_at_period_end: spec.cancelAtPeriodEnd ?? false,
    canceled_at: spec.canceledAt ?? null,
    cancellation_details: {
      comment: null,
      feedback: spec.cancellationFeedback ?? null,
      reason: spec.cancellationReason ?? null,
    },
    collection_method: 'charge_automatically',
    created,
    currency: items[0]?.price.currency ?? 'usd',
    customer,
    default_payment_method: null,
    ended_at: spec.endedAt ?? null,
    items: {
      object: 'list' as const,
      data: items,
      has_more: false,
      total_count: items.length,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: false,
    metadata: spec.metadata ?? {},
    pause_collection: spec.pauseCollection
      ? { behavior: spec.pauseCollection.behavior, resumes_at: spec.pauseCollection.resumesAt ?? null }
      : null,
    start_date: spec.startDate ?? created,
    status,
    trial_end: spec.trialEnd ?? null,
    trial_start: spec.trialStart ?? null,
    ...(apiShape === 'legacy'
      ? {
          current_period_start: periodStart,
          current_period_end: periodEnd,
          discount: discounts[0] ?? null,
          plan: items[0]?.plan ?? null,
          quantity: items[0]?.quantity ?? null,
        }
      : { discounts }),
  };
}

function subscriptionEvent(type: string) {
  return (spec: SubscriptionSpec = {}, options: EventOptions = {}) =>
    stripeEvent(type, subscriptionObject(spec, options.apiShape), options);
}

export const subscriptionCreatedEvent = subscriptionEvent('customer.subscription.created');
export const subscriptionUpdatedEvent = subscriptionEvent('customer.subscription.updated');
export const subscriptionDeletedEvent = subscriptionEvent('customer.subscription.deleted');
export const subscriptionPausedEvent = subscriptionEvent('customer.subscription.paused');
export const subscriptionResumedEvent = subscriptionEvent('customer.subscription.resumed');
export const subscriptionTrialWillEndEvent = subscriptionEvent('customer.subscription.trial_will_end');

// ---------------------------------------------------------------- invoice

export interface InvoiceSpec {
  id?: string;
  customer?: string;
  subscription?: string | null;
  status?: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
  attemptCount?: number;
  nextPaymentAttempt?: number | null;
  amountDue?: number;
  amountPaid?: number;
  currency?: string;
  billingReason?: string;
  periodStart?: number;
  periodEnd?: number;
  declineCode?: string | null;
  failureMessage?: string | null;
  hostedInvoiceUrl?: string;
}

export function invoiceObject(spec: InvoiceSpec = {}, apiShape: ApiShape = 'legacy') {
  const subscription = spec.subscription === undefined ? 'sub_T1' : spec.subscription;
  const amountDue = spec.amountDue ?? 2000;
  const paid = spec.status === 'paid';
  const declined = spec.declineCode !== undefined && spec.declineCode !== null;
  const paymentError = declined
    ? {
        code: 'card_declined',
        decline_code: spec.declineCode,
        message: spec.failureMessage ?? 'Your card was declined.',
        type: 'card_error',
      }
    : null;
  return {
    id: spec.id ?? 'in_T1',
    object: 'invoice' as const,
    amount_due: amountDue,
    amount_paid: spec.amountPaid ?? (paid ? amountDue : 0),
    amount_remaining: paid ? 0 : amountDue,
    attempt_count: spec.attemptCount ?? (paid ? 1 : 0),
    attempted: (spec.attemptCount ?? 0) > 0 || paid,
    billing_reason: spec.billingReason ?? 'subscription_cycle',
    collection_method: 'charge_automatically',
    created: spec.periodStart ?? T0,
    currency: spec.currency ?? 'usd',
    customer: spec.customer ?? 'cus_T1',
    hosted_invoice_url: spec.hostedInvoiceUrl ?? 'https://invoice.stripe.com/i/acct_test/test_T1',
    last_finalization_error: null,
    livemode: false,
    next_payment_attempt: spec.nextPaymentAttempt ?? null,
    period_start: spec.periodStart ?? T0,
    period_end: spec.periodEnd ?? (spec.periodStart ?? T0) + 30 * DAY,
    status: spec.status ?? 'open',
    total: amountDue,
    ...(apiShape === 'legacy'
      ? {
          subscription,
          charge: declined ? 'ch_T1' : null,
          paid,
          payment_intent: {
            id: 'pi_T1',
            object: 'payment_intent',
            last_payment_error: paymentError,
            status: paid ? 'succeeded' : 'requires_payment_method',
          },
        }
      : {
          parent: subscription
            ? {
                type: 'subscription_details',
                quote_details: null,
                subscription_details: { metadata: {}, subscription },
              }
            : null,
          last_finalization_error: paymentError,
        }),
  };
}

function invoiceEvent(type: string, defaults: InvoiceSpec) {
  return (spec: InvoiceSpec = {}, options: EventOptions = {}) =>
    stripeEvent(type, invoiceObject({ ...defaults, ...spec }, options.apiShape), options);
}

export const invoicePaidEvent = invoiceEvent('invoice.paid', { status: 'paid' });
export const invoicePaymentSucceededEvent = invoiceEvent('invoice.payment_succeeded', { status: 'paid' });
export const invoicePaymentFailedEvent = invoiceEvent('invoice.payment_failed', {
  status: 'open',
  attemptCount: 1,
  declineCode: 'insufficient_funds',
});
export const invoicePaymentActionRequiredEvent = invoiceEvent('invoice.payment_action_required', {
  status: 'open',
  attemptCount: 1,
});

// ---------------------------------------------------------------- payment method

export interface PaymentMethodSpec {
  id?: string;
  customer?: string | null;
  brand?: string;
  last4?: string;
  expMonth?: number;
  expYear?: number;
}

export function paymentMethodObject(spec: PaymentMethodSpec = {}) {
  return {
    id: spec.id ?? 'pm_T1',
    object: 'payment_method' as const,
    allow_redisplay: 'unspecified',
    billing_details: { address: null, email: null, name: null, phone: null },
    card: {
      brand: spec.brand ?? 'visa',
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: 'US',
      exp_month: spec.expMonth ?? 12,
      exp_year: spec.expYear ?? 2030,
      funding: 'credit',
      last4: spec.last4 ?? '4242',
    },
    created: T0,
    customer: spec.customer === undefined ? 'cus_T1' : spec.customer,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}

export const paymentMethodAttachedEvent = (spec: PaymentMethodSpec = {}, options: EventOptions = {}) =>
  stripeEvent('payment_method.attached', paymentMethodObject(spec), options);
/** Stripe sends the detached method with `customer: null`, and the customer in `previous_attributes`. */
export const paymentMethodDetachedEvent = (spec: PaymentMethodSpec = {}, options: EventOptions = {}) =>
  stripeEvent('payment_method.detached', paymentMethodObject({ ...spec, customer: null }), {
    ...options,
    previousAttributes: { customer: spec.customer ?? 'cus_T1', ...options.previousAttributes },
  });
