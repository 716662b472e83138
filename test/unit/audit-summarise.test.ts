import type { SubscriptionItem } from '../../src/aggregates/subscription/model';
import type { BusEvent } from '../../src/bus/port';
import { formatMoney, formatMoneyChange, formatPercentBps } from '../../src/projections/audit/format';
import { summarise } from '../../src/projections/audit/summarise';

const base = {
  customerId: 'cus_1',
  subscriptionId: 'sub_1',
  occurredAt: '2026-01-10T09:00:00.000Z',
  stripeEventId: 'evt_1',
};

function event(type: string, data: Record<string, unknown>): BusEvent {
  return {
    eventId: '00000000-0000-4000-8000-000000000001',
    type,
    streamName: 'subscription-sub_1',
    revision: 1,
    position: '2',
    customerId: 'cus_1',
    data,
    metadata: { schemaVersion: 1 },
    recordedAt: '2026-01-10T09:00:01.000Z',
  };
}

function item(priceId: string, unitAmount: number, quantity = 1): SubscriptionItem {
  return {
    itemId: `si_${priceId}`,
    priceId,
    productId: 'prod_1',
    lookupKey: null,
    priceMetadata: {},
    unitAmount,
    currency: 'usd',
    interval: 'month',
    intervalCount: 1,
    quantity,
    metered: false,
  };
}

const usd = (amount: number) => ({ amount, currency: 'usd' });
/** Snapshot fields a start summary does not mention. */
const unsetSnapshotFields = Object.fromEntries(
  [
    'currentPeriodStart',
    'currentPeriodEnd',
    'cancelAt',
    'canceledAt',
    'endedAt',
    'cancellationReason',
    'cancellationFeedback',
    'pauseCollection',
  ].map((field) => [field, null]),
);

describe('money in summaries', () => {
  it('formats by the currency minor digits, with integer arithmetic', () => {
    expect(formatMoney(usd(4900))).toBe('$49.00 USD');
    expect(formatMoney({ amount: 5000, currency: 'jpy' })).toBe('¥5,000 JPY');
    expect(formatMoney({ amount: 1234, currency: 'kwd' })).toBe('1.234 KWD');
    expect(formatMoney({ amount: 123456789, currency: 'chf' })).toBe('1,234,567.89 CHF');
    expect(formatMoney(usd(-5))).toBe('-$0.05 USD');
    // Beyond what a float divided by 100 would print exactly.
    expect(formatMoney(usd(Number.MAX_SAFE_INTEGER))).toBe('$90,071,992,547,409.91 USD');
  });

  it('writes a change once in one currency, twice across currencies', () => {
    expect(formatMoneyChange(usd(4900), usd(9900))).toBe('$49.00 → $99.00 USD');
    expect(formatMoneyChange(usd(4900), { amount: 4500, currency: 'eur' })).toBe('$49.00 USD → €45.00 EUR');
  });

  it('writes basis points as a percentage', () => {
    expect([2500, 1250, 1234, 5, 10000].map(formatPercentBps)).toEqual([
      '25%',
      '12.5%',
      '12.34%',
      '0.05%',
      '100%',
    ]);
  });
});

describe('summarise subscription events', () => {
  it('describes a plan change with items and MRR before and after', () => {
    const result = summarise(
      event('SubscriptionItemsChanged', {
        ...base,
        previousItems: [item('price_basic_monthly', 4900)],
        items: [item('price_premium_monthly', 9900)],
        change: 'upgrade',
        previousMrr: usd(4900),
        mrr: usd(9900),
      }),
    );
    expect(result.summary).toBe(
      'Plan changed: price_basic_monthly ×1 → price_premium_monthly ×1; MRR $49.00 → $99.00 USD',
    );
    expect(result.changes).toEqual([
      {
        field: 'items',
        before: [
          {
            priceId: 'price_basic_monthly',
            quantity: 1,
            unitAmount: 4900,
            currency: 'usd',
            interval: 'month',
            intervalCount: 1,
          },
        ],
        after: [
          {
            priceId: 'price_premium_monthly',
            quantity: 1,
            unitAmount: 9900,
            currency: 'usd',
            interval: 'month',
            intervalCount: 1,
          },
        ],
      },
      { field: 'mrr', before: usd(4900), after: usd(9900) },
    ]);
  });

  it('describes a start with its status, items, MRR and trial', () => {
    const result = summarise(
      event('SubscriptionStarted', {
        ...base,
        status: 'trialing',
        items: [item('price_basic_monthly', 4900), item('price_seat', 1000, 5)],
        discounts: [],
        startedAt: '2026-01-10T09:00:00.000Z',
        trialStart: '2026-01-10T09:00:00.000Z',
        trialEnd: '2026-01-24T09:00:00.000Z',
        cancelAtPeriodEnd: false,
        ...unsetSnapshotFields,
        mrr: usd(0),
      }),
    );
    expect(result.summary).toBe(
      'Subscription started (trialing): price_basic_monthly ×1, price_seat ×5; MRR $0.00 USD; trial until 2026-01-24T09:00:00.000Z',
    );
    expect(result.changes.map((c) => [c.field, c.before])).toEqual([
      ['status', null],
      ['items', []],
      ['mrr', null],
    ]);
  });

  it('describes a scheduled cancellation with when, reason and feedback', () => {
    const result = summarise(
      event('SubscriptionCancellationScheduled', {
        ...base,
        cancelAtPeriodEnd: true,
        cancelAt: null,
        endsAt: '2026-02-10T09:00:00.000Z',
        reason: 'cancellation_requested',
        feedback: 'too_expensive',
      }),
    );
    expect(result.summary).toBe(
      'Cancellation scheduled: ends 2026-02-10T09:00:00.000Z (at period end); reason cancellation_requested; feedback too_expensive',
    );
    expect(result.changes).toEqual([
      { field: 'cancellationScheduled', before: false, after: true },
      { field: 'endsAt', before: null, after: '2026-02-10T09:00:00.000Z' },
    ]);
  });

  it('describes a cancellation and a status transition with the status before and after', () => {
    const cancelled = summarise(
      event('SubscriptionCancelled', {
        ...base,
        from: 'active',
        status: 'canceled',
        canceledAt: '2026-02-10T09:00:00.000Z',
        endedAt: '2026-02-10T09:00:00.000Z',
        reason: 'payment_failed',
        feedback: null,
        mrr: usd(0),
      }),
    );
    expect(cancelled.summary).toBe(
      'Subscription cancelled: status active → canceled; reason payment_failed; MRR now $0.00 USD',
    );
    expect(cancelled.changes[0]).toEqual({ field: 'status', before: 'active', after: 'canceled' });

    const pastDue = summarise(
      event('SubscriptionBecamePastDue', { ...base, from: 'active', status: 'past_due', mrr: usd(4900) }),
    );
    expect(pastDue).toEqual({
      summary: 'Subscription past due: status active → past_due; MRR now $49.00 USD',
      changes: [{ field: 'status', before: 'active', after: 'past_due' }],
    });
  });

  it('describes a failed payment with the invoice, amount, attempt, decline and next attempt', () => {
    const base2 = { ...base, invoiceId: 'in_1', attemptCount: 2, amountDue: 4900, currency: 'usd' };
    const failed = summarise(
      event('SubscriptionPaymentFailed', {
        ...base2,
        nextPaymentAttempt: '2026-01-13T09:00:00.000Z',
        declineCode: 'insufficient_funds',
        failureMessage: 'Your card has insufficient funds.',
      }),
    );
    expect(failed.summary).toBe(
      'Payment failed: invoice in_1, $49.00 USD due, attempt 2; decline insufficient_funds; Your card has insufficient funds.; next attempt 2026-01-13T09:00:00.000Z',
    );
    const last = summarise(
      event('SubscriptionPaymentFailed', {
        ...base2,
        nextPaymentAttempt: null,
        declineCode: null,
        failureMessage: null,
      }),
    );
    expect(last.summary).toBe(
      'Payment failed: invoice in_1, $49.00 USD due, attempt 2; no further attempt scheduled',
    );
  });

  it('describes a discount by its coupon, amount off and duration', () => {
    const result = summarise(
      event('SubscriptionDiscountApplied', {
        ...base,
        discount: {
          id: 'di_1',
          couponId: 'SPRING',
          percentOffBps: 1250,
          amountOff: null,
          currency: null,
          duration: 'repeating',
          durationInMonths: 3,
          end: null,
        },
        fromSnapshot: false,
        mrr: usd(4288),
      }),
    );
    expect(result.summary).toBe(
      'Discount applied: coupon SPRING (12.5% off, for 3 months); MRR now $42.88 USD',
    );
  });
});

describe('summarise customer events', () => {
  const profile = { email: 'ada@example.com', name: 'Ada', phone: null, address: null, userId: 'u_42' };

  it('describes a registration with the fields it set', () => {
    const result = summarise(
      event('CustomerRegistered', {
        ...base,
        subscriptionId: undefined,
        ...profile,
        createdAt: base.occurredAt,
        defaultPaymentMethodId: null,
      }),
    );
    expect(result.summary).toBe('Customer registered: ada@example.com (Ada); user u_42');
    expect(result.changes).toEqual([
      { field: 'email', before: null, after: 'ada@example.com' },
      { field: 'name', before: null, after: 'Ada' },
      { field: 'userId', before: null, after: 'u_42' },
    ]);
  });

  it('describes a profile change field by field, before and after', () => {
    const address = {
      line1: '1 Main St',
      line2: null,
      city: 'Springfield',
      state: null,
      postalCode: '12345',
      country: 'US',
    };
    const result = summarise(
      event('CustomerProfileChanged', {
        ...base,
        ...profile,
        email: 'ada@new.example.com',
        address,
        previous: profile,
        changed: ['email', 'address'],
      }),
    );
    expect(result.summary).toBe(
      'Profile changed: email ada@example.com → ada@new.example.com; address none → 1 Main St, Springfield, 12345, US',
    );
    expect(result.changes).toEqual([
      { field: 'email', before: 'ada@example.com', after: 'ada@new.example.com' },
      { field: 'address', before: null, after: address },
    ]);
  });

  it('describes an attached card and a deletion', () => {
    const attached = summarise(
      event('CustomerPaymentMethodAttached', {
        ...base,
        paymentMethod: { id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', expMonth: 3, expYear: 2030 },
      }),
    );
    expect(attached.summary).toBe('Payment method attached: visa •••• 4242, expires 03/2030 (pm_1)');
    expect(summarise(event('CustomerDeleted', base))).toEqual({
      summary: 'Customer deleted in Stripe (the audit trail is kept)',
      changes: [{ field: 'deleted', before: false, after: true }],
    });
  });
});

describe('summarise the warnings recorded with a fact', () => {
  const customer = {
    customerId: 'cus_1',
    occurredAt: '2026-01-10T09:00:00.000Z',
    stripeEventId: 'evt_1',
    email: null,
    name: null,
    phone: null,
    address: null,
    userId: 'u_1',
    createdAt: '2026-01-10T09:00:00.000Z',
    defaultPaymentMethodId: null,
  };

  it('a customer registered without an email says so, and shows the warning', () => {
    expect(
      summarise(
        event('CustomerRegistered', { ...customer, warnings: ['no email: email notifications impossible'] }),
      ),
    ).toEqual({
      summary: 'Customer registered: no email; user u_1; warning: no email: email notifications impossible',
      changes: [{ field: 'userId', before: null, after: 'u_1' }],
    });
  });

  it('several warnings are all shown; an event stored before warnings existed reads as before', () => {
    expect(
      summarise(event('CustomerSynced', { ...customer, deleted: false, warnings: ['a', 'b'] })).summary,
    ).toBe('Customer synced with Stripe: no email; warnings: a; b');
    expect(summarise(event('CustomerRegistered', { ...customer, email: 'j@example.com' })).summary).toBe(
      'Customer registered: j@example.com; user u_1',
    );
  });
});

describe('summarise what it does not know', () => {
  it('gives an unknown event type a generic summary', () => {
    expect(summarise(event('DunningStepScheduled', { anything: 1 }))).toEqual({
      summary: 'DunningStepScheduled (no summary for this event type)',
      changes: [],
    });
  });

  it('gives a known type whose data does not match its schema a generic summary, without throwing', () => {
    const result = summarise(event('SubscriptionItemsChanged', { ...base, items: 'not a list' }));
    expect(result).toEqual({
      summary:
        'SubscriptionItemsChanged (details unreadable: the data does not match schema version 1 of this event)',
      changes: [],
    });
  });
});
