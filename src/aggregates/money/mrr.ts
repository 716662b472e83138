import type { Money } from '../shared/values';
import type {
  BillingInterval,
  Discount,
  PauseCollection,
  SubscriptionItem,
  SubscriptionStatus,
} from '../subscription/model';

/**
 * Monthly recurring revenue of one subscription (ARCHITECTURE.md, "Money and MRR").
 *
 * Exact rational arithmetic in bigint, rounded once, half up, to a minor unit at the end:
 * - each item: unit amount x quantity per billing period, normalised to a month
 *   (month x1, year /12, week x52/12, day x365/12, then / interval_count);
 * - discounts of duration `once` touch one invoice, not the run rate, and are left out;
 *   percent-off discounts multiply (basis points, so 12.5% is exact), then amount-off
 *   discounts (per invoice, i.e. per billing period, normalised like the items) subtract;
 *   an amount-off in another currency does not apply; the result never goes below 0;
 * - status: trialing, incomplete, incomplete_expired, unpaid, paused and canceled count 0
 *   (unpaid: Stripe stopped collecting after dunning and access is revoked, so a later
 *   payment shows as a reactivation); active and past_due count in full, including a
 *   subscription set to cancel at period end, until it actually ends;
 * - a paused collection (`pause_collection`) counts 0: nothing is being invoiced.
 * Metered items have no fixed amount and count 0.
 */
export interface MrrInput {
  status: SubscriptionStatus;
  items: readonly SubscriptionItem[];
  discounts: readonly Discount[];
  pauseCollection: PauseCollection | null;
}

interface Fraction {
  num: bigint;
  den: bigint;
}

const MONTHS_PER_PERIOD: Record<BillingInterval, Fraction> = {
  month: { num: 1n, den: 1n },
  year: { num: 1n, den: 12n },
  week: { num: 52n, den: 12n },
  day: { num: 365n, den: 12n },
};

const COUNTING_STATUSES: ReadonlySet<SubscriptionStatus> = new Set(['active', 'past_due']);

function perMonth(amountPerPeriod: bigint, interval: BillingInterval, intervalCount: number): Fraction {
  const factor = MONTHS_PER_PERIOD[interval];
  return { num: amountPerPeriod * factor.num, den: factor.den * BigInt(intervalCount) };
}

const add = (a: Fraction, b: Fraction): Fraction => ({
  num: a.num * b.den + b.num * a.den,
  den: a.den * b.den,
});

function roundHalfUp(f: Fraction): number {
  if (f.num <= 0n) return 0;
  return Number((2n * f.num + f.den) / (2n * f.den));
}

export function subscriptionCurrency(items: readonly SubscriptionItem[]): string | null {
  return items[0]?.currency ?? null;
}

export function computeMrr(input: MrrInput, fallbackCurrency = 'usd'): Money {
  const currency = subscriptionCurrency(input.items) ?? fallbackCurrency;
  const zero = { amount: 0, currency };
  if (!COUNTING_STATUSES.has(input.status) || input.pauseCollection !== null) return zero;
  const billed = input.items.filter((item) => !item.metered && item.currency === currency);
  const first = billed[0];
  if (!first) return zero;

  let total: Fraction = { num: 0n, den: 1n };
  for (const item of billed) {
    total = add(
      total,
      perMonth(BigInt(item.unitAmount) * BigInt(item.quantity), item.interval, item.intervalCount),
    );
  }
  const recurring = input.discounts.filter((d) => d.duration !== 'once');
  for (const d of recurring) {
    if (d.percentOffBps !== null)
      total = { num: total.num * BigInt(10000 - d.percentOffBps), den: total.den * 10000n };
  }
  for (const d of recurring) {
    if (d.amountOff !== null && d.currency === currency) {
      const off = perMonth(BigInt(d.amountOff), first.interval, first.intervalCount);
      total = add(total, { num: -off.num, den: off.den });
    }
  }
  return { amount: roundHalfUp(total), currency };
}
