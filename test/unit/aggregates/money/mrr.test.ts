import type {
  Discount,
  SubscriptionItem,
  SubscriptionStatus,
} from '../../../../src/aggregates/subscription/model';
import { computeMrr } from '../../../../src/aggregates/money/mrr';

const item = (over: Partial<SubscriptionItem> = {}): SubscriptionItem => ({
  itemId: 'si_1',
  priceId: 'price_1',
  productId: 'prod_1',
  lookupKey: null,
  priceMetadata: {},
  unitAmount: 2000,
  currency: 'usd',
  interval: 'month',
  intervalCount: 1,
  quantity: 1,
  metered: false,
  ...over,
});

const discount = (over: Partial<Discount> = {}): Discount => ({
  id: 'di_1',
  couponId: 'C1',
  percentOffBps: null,
  amountOff: null,
  currency: null,
  duration: 'forever',
  durationInMonths: null,
  end: null,
  ...over,
});

const mrr = (items: SubscriptionItem[], discounts: Discount[] = [], status: SubscriptionStatus = 'active') =>
  computeMrr({ status, items, discounts, pauseCollection: null }).amount;

describe('MRR of a subscription (integer minor units, rounded half up once)', () => {
  it.each<[string, Partial<SubscriptionItem>, number]>([
    ['monthly', { unitAmount: 2000, interval: 'month' }, 2000],
    ['yearly / 12', { unitAmount: 12000, interval: 'year' }, 1000],
    ['yearly / 12, rounding half up (9990 -> 832.5)', { unitAmount: 9990, interval: 'year' }, 833],
    ['weekly x 52 / 12 (700 -> 3033.33)', { unitAmount: 700, interval: 'week' }, 3033],
    ['daily x 365 / 12 (150 -> 4562.5)', { unitAmount: 150, interval: 'day' }, 4563],
    ['every 3 months (8500 -> 2833.33)', { unitAmount: 8500, interval: 'month', intervalCount: 3 }, 2833],
    [
      'every 2 weeks (1000 x 52 / 24 -> 2166.67)',
      { unitAmount: 1000, interval: 'week', intervalCount: 2 },
      2167,
    ],
    ['every 2 years', { unitAmount: 24000, interval: 'year', intervalCount: 2 }, 1000],
    ['quantity multiplies', { unitAmount: 999, quantity: 5 }, 4995],
    ['quantity 0 is nothing', { unitAmount: 999, quantity: 0 }, 0],
    ['metered items have no fixed amount', { unitAmount: 500, metered: true }, 0],
  ])('%s', (_name, over, expected) => {
    expect(mrr([item(over)])).toBe(expected);
  });

  it('sums several items', () => {
    expect(mrr([item({ unitAmount: 2000 }), item({ itemId: 'si_2', unitAmount: 500, quantity: 3 })])).toBe(
      3500,
    );
  });

  it('rounds once per subscription, not per item (two 9990/year items: 1665, not 833 + 833)', () => {
    expect(
      mrr([
        item({ unitAmount: 9990, interval: 'year' }),
        item({ itemId: 'si_2', unitAmount: 9990, interval: 'year' }),
      ]),
    ).toBe(1665);
  });

  it.each<[string, Partial<Discount>[], number]>([
    ['percent off', [{ percentOffBps: 2000 }], 1600],
    ['decimal percent off, exact in basis points (12.5% of 999 = 874.125)', [{ percentOffBps: 1250 }], 874],
    ['amount off per invoice', [{ amountOff: 500, currency: 'usd' }], 1500],
    ['amount off never below 0', [{ amountOff: 5000, currency: 'usd' }], 0],
    ['amount off in another currency does not apply', [{ amountOff: 500, currency: 'eur' }], 2000],
    ['a once-only coupon is not recurring revenue', [{ percentOffBps: 5000, duration: 'once' }], 2000],
    [
      'a repeating coupon counts while it lasts',
      [{ percentOffBps: 5000, duration: 'repeating', durationInMonths: 3 }],
      1000,
    ],
    [
      'percent first, then amount off',
      [{ percentOffBps: 2000 }, { id: 'di_2', amountOff: 500, currency: 'usd' }],
      1100,
    ],
    ['two percent discounts compound', [{ percentOffBps: 5000 }, { id: 'di_2', percentOffBps: 5000 }], 500],
  ])('%s', (_name, discounts, expected) => {
    const unitAmount = _name.startsWith('decimal') ? 999 : 2000;
    expect(
      mrr(
        [item({ unitAmount })],
        discounts.map((d) => discount(d)),
      ),
    ).toBe(expected);
  });

  it('amount off on an annual price is per invoice, so normalised like the price: (12000 - 1200) / 12', () => {
    expect(
      mrr([item({ unitAmount: 12000, interval: 'year' })], [discount({ amountOff: 1200, currency: 'usd' })]),
    ).toBe(900);
  });

  it('discounts apply to the whole of several items', () => {
    expect(
      mrr(
        [item({ unitAmount: 2000 }), item({ itemId: 'si_2', unitAmount: 1000 })],
        [discount({ percentOffBps: 1000 })],
      ),
    ).toBe(2700);
  });

  it.each<[SubscriptionStatus, number]>([
    ['active', 2000],
    ['past_due', 2000],
    ['trialing', 0],
    ['incomplete', 0],
    ['incomplete_expired', 0],
    ['unpaid', 0],
    ['paused', 0],
    ['canceled', 0],
  ])('status %s counts %i', (status, expected) => {
    expect(mrr([item()], [], status)).toBe(expected);
  });

  it('a paused collection counts 0 while the status stays active', () => {
    expect(
      computeMrr({
        status: 'active',
        items: [item()],
        discounts: [],
        pauseCollection: { behavior: 'void', resumesAt: null },
      }).amount,
    ).toBe(0);
  });

  it('keeps the currency of the items', () => {
    expect(
      computeMrr({
        status: 'active',
        items: [item({ currency: 'eur' })],
        discounts: [],
        pauseCollection: null,
      }),
    ).toEqual({ amount: 2000, currency: 'eur' });
  });
});
