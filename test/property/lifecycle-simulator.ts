/**
 * Simulates Stripe: a customer and one or two subscriptions living through a generated
 * sequence of actions, written down as the webhook events Stripe would send, in the order
 * Stripe created them. Event ids grow with `created`, so the last snapshot is also the one
 * the aggregates must end on.
 */
import {
  DAY,
  customerCreatedEvent,
  customerDeletedEvent,
  customerUpdatedEvent,
  discountCreatedEvent,
  discountDeletedEvent,
  invoicePaidEvent,
  invoicePaymentActionRequiredEvent,
  invoicePaymentFailedEvent,
  invoicePaymentSucceededEvent,
  paymentMethodAttachedEvent,
  paymentMethodDetachedEvent,
  stripeEvent,
  subscriptionObject,
  type ApiShape,
  type DiscountSpec,
  type EventOptions,
  type PriceSpec,
  type StripeEvent,
  type SubscriptionSpec,
  type SubscriptionStatus,
} from '../support/stripe-fixtures';

export const ACTIONS = [
  'trial_will_end',
  'convert',
  'trial_lapse_past_due',
  'trial_lapse_cancel',
  'trial_lapse_pause',
  'resume',
  'upgrade',
  'downgrade',
  'switch_to_annual',
  'switch_to_monthly',
  'quantity_up',
  'quantity_down',
  'add_item',
  'add_percent_discount',
  'add_amount_discount',
  'remove_discount',
  'payment_failed',
  'payment_action_required',
  'recover',
  'go_unpaid',
  'renew',
  'schedule_cancel',
  'withdraw_cancel',
  'end_at_period',
  'cancel_now',
  'touch_after_end',
  'pause_collection',
  'resume_collection',
  'pay_incomplete',
  'expire_incomplete',
  'attach_pm',
  'detach_pm',
  'update_customer',
  'customer_discount',
  'end_customer_discount',
  'delete_customer',
] as const;
export type Action = (typeof ACTIONS)[number];

export interface Step {
  subscription: 0 | 1;
  action: Action;
  /** Seconds since the previous step: 0 makes two Stripe events of the same second. */
  dt: number;
}

export interface LifecycleSpec {
  apiShape: ApiShape;
  subscriptions: { start: 'trialing' | 'active' | 'incomplete'; price: number; quantity: number }[];
  steps: Step[];
}

/** Base prices: monthly, annual, weekly, daily, quarterly (interval_count 3), in USD cents. */
export const PRICES: PriceSpec[] = [
  {
    id: 'price_basic_monthly',
    unitAmount: 999,
    interval: 'month',
    product: 'prod_basic',
    lookupKey: 'basic_monthly',
  },
  {
    id: 'price_premium_monthly',
    unitAmount: 2999,
    interval: 'month',
    product: 'prod_premium',
    lookupKey: 'premium_monthly',
  },
  { id: 'price_enterprise_monthly', unitAmount: 9900, interval: 'month', product: 'prod_enterprise' },
  { id: 'price_basic_annual', unitAmount: 9990, interval: 'year', product: 'prod_basic' },
  { id: 'price_premium_annual', unitAmount: 29990, interval: 'year', product: 'prod_premium' },
  { id: 'price_team_weekly', unitAmount: 700, interval: 'week', product: 'prod_team' },
  { id: 'price_api_daily', unitAmount: 150, interval: 'day', product: 'prod_api' },
  {
    id: 'price_premium_quarterly',
    unitAmount: 8500,
    interval: 'month',
    intervalCount: 3,
    product: 'prod_premium',
  },
];
const ADDON = (interval: PriceSpec['interval'], intervalCount = 1): PriceSpec => ({
  id: `price_seats_${interval}_${intervalCount}`,
  unitAmount:
    interval === 'year' ? 4800 : interval === 'week' ? 100 : interval === 'day' ? 15 : 500 * intervalCount,
  interval,
  intervalCount,
  product: 'prod_seats',
});

interface SimSubscription {
  spec: Required<
    Pick<
      SubscriptionSpec,
      'id' | 'status' | 'items' | 'created' | 'currentPeriodStart' | 'currentPeriodEnd' | 'discounts'
    >
  > &
    SubscriptionSpec;
  invoiceSeq: number;
  openInvoice: { id: string; attempts: number } | null;
}

const TERMINAL: ReadonlySet<SubscriptionStatus> = new Set(['canceled', 'incomplete_expired']);
const periodLength = (price: PriceSpec): number =>
  ({ day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY })[price.interval ?? 'month'] *
  (price.intervalCount ?? 1);

/**
 * `tag` names this customer's objects (`cus_<tag>1`, `sub_<tag>1`, `evt_<tag>_000001`...), so
 * many simulated customers can share one system.
 */
export function simulate(lifecycle: LifecycleSpec, start = 1_767_225_600, tag = 'L'): StripeEvent[] {
  const events: StripeEvent[] = [];
  const shape = lifecycle.apiShape;
  let t = start;
  let seq = 0;
  const opts = (): EventOptions => ({
    id:
      tag === 'L' ? `evt_${String(++seq).padStart(6, '0')}` : `evt_${tag}_${String(++seq).padStart(6, '0')}`,
    created: t,
    apiShape: shape,
  });
  const customer = {
    id: `cus_${tag}1`,
    email: 'jane@example.com',
    name: 'Jane',
    metadata: { user_id: tag === 'L' ? 'u_1' : `u_${tag}` },
    defaultPaymentMethod: null as string | null,
  };
  let pmSeq = 0;
  const pms: string[] = [];
  let customerGone = false;
  let customerDiscount: DiscountSpec | null = null;

  events.push(customerCreatedEvent(customer, opts()));
  const subs: SimSubscription[] = lifecycle.subscriptions.map((s, i) => {
    const price = PRICES[s.price % PRICES.length]!;
    const trial = s.start === 'trialing';
    const spec = {
      id: `sub_${tag}${i + 1}`,
      customer: customer.id,
      status: s.start,
      items: [{ id: `si_${tag}${i + 1}_a`, price, quantity: s.quantity }],
      created: t,
      currentPeriodStart: t,
      currentPeriodEnd: t + (trial ? 14 * DAY : periodLength(price)),
      trialStart: trial ? t : null,
      trialEnd: trial ? t + 14 * DAY : null,
      discounts: [] as DiscountSpec[],
    };
    return { spec, invoiceSeq: 0, openInvoice: null };
  });
  const snapshot = (sub: SimSubscription, type: string) =>
    events.push(stripeEvent(type, subscriptionObject(sub.spec, shape), opts()));
  for (const sub of subs) snapshot(sub, 'customer.subscription.created');

  const newInvoice = (sub: SimSubscription) => `in_${sub.spec.id.slice(4)}_${++sub.invoiceSeq}`;
  const invoiceSpec = (sub: SimSubscription, id: string) => ({
    id,
    customer: customer.id,
    subscription: sub.spec.id,
    amountDue: 1000,
  });
  const pay = (sub: SimSubscription) => {
    const open = sub.openInvoice ?? { id: newInvoice(sub), attempts: 0 };
    const spec = { ...invoiceSpec(sub, open.id), attemptCount: open.attempts + 1 };
    events.push(invoicePaidEvent(spec, opts()));
    events.push(invoicePaymentSucceededEvent(spec, opts()));
    sub.openInvoice = null;
  };
  const advancePeriod = (sub: SimSubscription) => {
    const first = sub.spec.items[0]!.price!;
    sub.spec.currentPeriodStart = sub.spec.currentPeriodEnd;
    sub.spec.currentPeriodEnd = sub.spec.currentPeriodStart + periodLength(first);
  };
  const setItems = (sub: SimSubscription, price: PriceSpec) => {
    const [first, ...rest] = sub.spec.items;
    sub.spec.items = [
      { ...first, price },
      ...rest.map((item) => ({ ...item, price: ADDON(price.interval, price.intervalCount) })),
    ];
  };

  for (const step of lifecycle.steps) {
    t += step.dt;
    const sub = subs[step.subscription % subs.length]!;
    const s = sub.spec;
    const live = !TERMINAL.has(s.status);
    const first = s.items[0]!;
    const priceIndex = PRICES.findIndex((p) => p.id === first.price?.id);
    switch (step.action) {
      case 'trial_will_end':
        if (s.status === 'trialing') snapshot(sub, 'customer.subscription.trial_will_end');
        break;
      case 'convert':
        if (s.status !== 'trialing') break;
        s.status = 'active';
        s.currentPeriodStart = s.trialEnd!;
        s.currentPeriodEnd = s.currentPeriodStart + periodLength(first.price!);
        pay(sub);
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'trial_lapse_past_due':
      case 'trial_lapse_cancel':
      case 'trial_lapse_pause':
        if (s.status !== 'trialing') break;
        if (step.action === 'trial_lapse_past_due') {
          s.status = 'past_due';
          s.currentPeriodStart = s.trialEnd!;
          s.currentPeriodEnd = s.currentPeriodStart + periodLength(first.price!);
          sub.openInvoice = { id: newInvoice(sub), attempts: 1 };
          events.push(
            invoicePaymentFailedEvent(
              { ...invoiceSpec(sub, sub.openInvoice.id), attemptCount: 1, nextPaymentAttempt: t + 3 * DAY },
              opts(),
            ),
          );
          snapshot(sub, 'customer.subscription.updated');
        } else if (step.action === 'trial_lapse_cancel') {
          s.status = 'canceled';
          s.canceledAt = t;
          s.endedAt = Math.max(t, s.trialEnd!);
          s.cancellationReason = 'payment_failed';
          snapshot(sub, 'customer.subscription.deleted');
        } else {
          s.status = 'paused';
          snapshot(sub, 'customer.subscription.paused');
        }
        break;
      case 'resume':
        if (s.status !== 'paused') break;
        s.status = 'active';
        s.currentPeriodStart = t;
        s.currentPeriodEnd = t + periodLength(first.price!);
        pay(sub);
        snapshot(sub, 'customer.subscription.resumed');
        break;
      case 'upgrade':
      case 'downgrade':
      case 'switch_to_annual':
      case 'switch_to_monthly': {
        if (!live || s.status === 'paused') break;
        const wanted =
          step.action === 'upgrade'
            ? PRICES.find(
                (p) =>
                  p.interval === first.price?.interval &&
                  (p.unitAmount ?? 0) > (first.price?.unitAmount ?? 0),
              )
            : step.action === 'downgrade'
              ? [...PRICES]
                  .reverse()
                  .find(
                    (p) =>
                      p.interval === first.price?.interval &&
                      (p.unitAmount ?? 0) < (first.price?.unitAmount ?? 0),
                  )
              : step.action === 'switch_to_annual'
                ? PRICES.find((p) => p.interval === 'year' && p.product === first.price?.product)
                : PRICES.find(
                    (p) =>
                      p.interval === 'month' &&
                      (p.intervalCount ?? 1) === 1 &&
                      p.product === first.price?.product,
                  );
        if (!wanted || wanted.id === first.price?.id || priceIndex < 0) break;
        setItems(sub, wanted);
        if (wanted.interval !== first.price?.interval) {
          s.currentPeriodStart = t;
          s.currentPeriodEnd = t + periodLength(wanted);
        }
        snapshot(sub, 'customer.subscription.updated');
        break;
      }
      case 'quantity_up':
      case 'quantity_down': {
        if (!live) break;
        const quantity = (first.quantity ?? 1) + (step.action === 'quantity_up' ? 1 : -1);
        if (quantity < 1) break;
        s.items = [{ ...first, quantity }, ...s.items.slice(1)];
        snapshot(sub, 'customer.subscription.updated');
        break;
      }
      case 'add_item':
        if (!live || s.items.length > 1) break;
        s.items = [
          ...s.items,
          {
            id: `${first.id}_seats`,
            price: ADDON(first.price?.interval, first.price?.intervalCount),
            quantity: 3,
          },
        ];
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'add_percent_discount':
      case 'add_amount_discount': {
        if (!live || s.discounts.length > 0) break;
        const n = events.length;
        const coupon =
          step.action === 'add_percent_discount'
            ? {
                id: `PCT${n}`,
                percentOff: [10, 12.5, 33.33, 50][n % 4]!,
                duration: n % 3 === 0 ? ('repeating' as const) : ('forever' as const),
                durationInMonths: n % 3 === 0 ? 3 : null,
              }
            : {
                id: `AMT${n}`,
                amountOff: [100, 500, 5000][n % 3]!,
                currency: 'usd',
                duration: n % 2 === 0 ? ('once' as const) : ('forever' as const),
              };
        const discount: DiscountSpec = {
          id: `di_${tag}${n}`,
          coupon,
          customer: customer.id,
          subscription: s.id,
          start: t,
        };
        s.discounts = [discount];
        // Stripe sends both at the same second; which one comes first in its log varies.
        if (n % 2 === 0) events.push(discountCreatedEvent(discount, opts()));
        snapshot(sub, 'customer.subscription.updated');
        if (n % 2 === 1) events.push(discountCreatedEvent(discount, opts()));
        break;
      }
      case 'remove_discount': {
        const discount = s.discounts[0];
        if (!live || !discount) break;
        s.discounts = [];
        events.push(discountDeletedEvent({ ...discount, end: t }, opts()));
        snapshot(sub, 'customer.subscription.updated');
        break;
      }
      case 'payment_failed':
      case 'payment_action_required': {
        if (s.status !== 'active' && s.status !== 'past_due') break;
        const open = sub.openInvoice ?? { id: newInvoice(sub), attempts: 0 };
        open.attempts += 1;
        sub.openInvoice = open;
        const spec = {
          ...invoiceSpec(sub, open.id),
          attemptCount: open.attempts,
          nextPaymentAttempt: t + 3 * DAY,
        };
        if (step.action === 'payment_action_required')
          events.push(invoicePaymentActionRequiredEvent(spec, opts()));
        events.push(
          invoicePaymentFailedEvent(
            {
              ...spec,
              declineCode:
                step.action === 'payment_failed' ? 'insufficient_funds' : 'authentication_required',
            },
            opts(),
          ),
        );
        if (s.status === 'active') {
          s.status = 'past_due';
          snapshot(sub, 'customer.subscription.updated');
        }
        break;
      }
      case 'recover':
        if (s.status !== 'past_due' && s.status !== 'unpaid') break;
        s.status = 'active';
        pay(sub);
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'go_unpaid':
        if (s.status !== 'past_due') break;
        s.status = 'unpaid';
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'renew':
        if (s.status !== 'active' || s.pauseCollection) break;
        if (s.cancelAtPeriodEnd) break;
        advancePeriod(sub);
        pay(sub);
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'schedule_cancel':
        if (!live || s.cancelAtPeriodEnd || s.status === 'paused') break;
        s.cancelAtPeriodEnd = true;
        s.cancellationReason = 'cancellation_requested';
        s.cancellationFeedback = n2feedback(events.length);
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'withdraw_cancel':
        if (!live || !s.cancelAtPeriodEnd) break;
        s.cancelAtPeriodEnd = false;
        s.cancellationReason = null;
        s.cancellationFeedback = null;
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'end_at_period':
        if (!live || !s.cancelAtPeriodEnd) break;
        t = Math.max(t, s.currentPeriodEnd);
        s.status = 'canceled';
        s.canceledAt = s.canceledAt ?? t;
        s.endedAt = t;
        snapshot(sub, 'customer.subscription.deleted');
        break;
      case 'cancel_now':
        if (!live) break;
        s.status = 'canceled';
        s.canceledAt = t;
        s.endedAt = t;
        s.cancellationReason = s.cancellationReason ?? 'cancellation_requested';
        snapshot(sub, 'customer.subscription.deleted');
        break;
      case 'touch_after_end':
        if (live) break;
        s.metadata = { touched: String(t) };
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'pause_collection':
        if (s.status !== 'active' || s.pauseCollection) break;
        s.pauseCollection = { behavior: 'void', resumesAt: t + 30 * DAY };
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'resume_collection':
        if (!live || !s.pauseCollection) break;
        s.pauseCollection = null;
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'pay_incomplete':
        if (s.status !== 'incomplete') break;
        s.status = 'active';
        pay(sub);
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'expire_incomplete':
        if (s.status !== 'incomplete') break;
        s.status = 'incomplete_expired';
        s.endedAt = t;
        snapshot(sub, 'customer.subscription.updated');
        break;
      case 'customer_discount':
        if (customerGone || customerDiscount) break;
        customerDiscount = {
          id: `di_${tag}c${events.length}`,
          coupon: { id: `WELCOME${events.length}`, amountOff: 300 },
          customer: customer.id,
          start: t,
        };
        events.push(discountCreatedEvent(customerDiscount, opts()));
        break;
      case 'end_customer_discount':
        if (customerGone || !customerDiscount) break;
        events.push(discountDeletedEvent({ ...customerDiscount, end: t }, opts()));
        customerDiscount = null;
        break;
      case 'delete_customer':
        if (customerGone || subs.some((x) => !TERMINAL.has(x.spec.status))) break;
        customerGone = true;
        events.push(customerDeletedEvent(customer, opts()));
        break;
      case 'attach_pm': {
        if (customerGone) break;
        const id = `pm_${tag}${++pmSeq}`;
        pms.push(id);
        events.push(paymentMethodAttachedEvent({ id, customer: customer.id }, opts()));
        customer.defaultPaymentMethod = id;
        events.push(customerUpdatedEvent(customer, opts()));
        break;
      }
      case 'detach_pm': {
        const id = customerGone ? undefined : pms.shift();
        if (id) events.push(paymentMethodDetachedEvent({ id, customer: customer.id }, opts()));
        break;
      }
      case 'update_customer':
        if (customerGone) break;
        customer.name = `Jane ${events.length}`;
        customer.email = `jane+${events.length}@example.com`;
        events.push(customerUpdatedEvent(customer, opts()));
        break;
      default: {
        const never: never = step.action;
        throw new Error(`unknown action ${String(never)}`);
      }
    }
  }
  return events;
}

const n2feedback = (n: number): string | null => ['too_expensive', 'missing_features', null][n % 3] ?? null;
