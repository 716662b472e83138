import type { Discount, SubscriptionItem, SubscriptionSnapshot } from '../../aggregates/subscription/model';
import { fromUnixSeconds } from '../../aggregates/shared/values';
import type { StripeCoupon, StripeDiscount, StripeSubscription } from './schemas';

const iso = (seconds: number | null | undefined): string | null =>
  seconds === null || seconds === undefined ? null : fromUnixSeconds(seconds);

/** Minor units from `unit_amount`, or from `unit_amount_decimal` rounded half up (no floats). */
function unitAmountOf(price: StripeSubscription['items']['data'][number]['price']): number {
  if (price.unit_amount !== null && price.unit_amount !== undefined) return price.unit_amount;
  if (!price.unit_amount_decimal) return 0;
  const [whole = '0', fraction = ''] = price.unit_amount_decimal.split('.');
  return Number(whole) + (fraction.charAt(0) >= '5' ? 1 : 0);
}

/** Percent to basis points without float drift: Stripe allows at most two decimals. */
const basisPoints = (percent: number): number => Math.round(percent * 100);

/** The coupon's terms: on the discount (legacy) or an expanded `source.coupon`; null when only an id (or nothing) came. */
export const couponOf = (d: StripeDiscount): StripeCoupon | null =>
  d.coupon ?? (typeof d.source?.coupon === 'object' ? d.source.coupon : null);

/** The discount as the domain sees it, or null when its coupon's terms are not in the payload. */
export function normaliseDiscount(d: StripeDiscount): Discount | null {
  const coupon = couponOf(d);
  if (!coupon) return null;
  return {
    id: d.id ?? coupon.id,
    couponId: coupon.id,
    percentOffBps:
      coupon.percent_off === null || coupon.percent_off === undefined
        ? null
        : basisPoints(coupon.percent_off),
    amountOff: coupon.amount_off ?? null,
    currency: coupon.currency?.toLowerCase() ?? null,
    duration: coupon.duration,
    durationInMonths: coupon.duration_in_months ?? null,
    end: iso(d.end),
  };
}

function discountsOf(sub: StripeSubscription): Discount[] {
  const expanded = (sub.discounts ?? []).filter((d): d is StripeDiscount => typeof d !== 'string');
  const all = [...expanded, ...(sub.discount ? [sub.discount] : [])]
    .map(normaliseDiscount)
    .filter((d): d is Discount => d !== null);
  const byId = new Map(all.map((d) => [d.id, d]));
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function itemsOf(sub: StripeSubscription): SubscriptionItem[] {
  return sub.items.data.map((item) => ({
    itemId: item.id,
    priceId: item.price.id,
    productId: item.price.product,
    lookupKey: item.price.lookup_key ?? null,
    priceMetadata: item.price.metadata,
    unitAmount: unitAmountOf(item.price),
    currency: item.price.currency.toLowerCase(),
    interval: item.price.recurring.interval,
    intervalCount: item.price.recurring.interval_count,
    quantity: item.quantity ?? 1,
    metered: item.price.recurring.usage_type === 'metered',
  }));
}

/** The subscription as the domain sees it, whichever API version wrote the payload. */
export function normaliseSubscription(sub: StripeSubscription): SubscriptionSnapshot {
  const firstItem = sub.items.data[0];
  return {
    subscriptionId: sub.id,
    customerId: sub.customer,
    status: sub.status,
    items: itemsOf(sub),
    discounts: discountsOf(sub),
    startedAt: fromUnixSeconds(sub.start_date ?? sub.created),
    trialStart: iso(sub.trial_start),
    trialEnd: iso(sub.trial_end),
    currentPeriodStart: iso(sub.current_period_start ?? firstItem?.current_period_start),
    currentPeriodEnd: iso(sub.current_period_end ?? firstItem?.current_period_end),
    cancelAtPeriodEnd: sub.cancel_at_period_end ?? false,
    cancelAt: iso(sub.cancel_at),
    canceledAt: iso(sub.canceled_at),
    endedAt: iso(sub.ended_at),
    cancellationReason: sub.cancellation_details?.reason ?? null,
    cancellationFeedback: sub.cancellation_details?.feedback ?? null,
    pauseCollection: sub.pause_collection
      ? { behavior: sub.pause_collection.behavior, resumesAt: iso(sub.pause_collection.resumes_at) }
      : null,
  };
}

export { iso };
