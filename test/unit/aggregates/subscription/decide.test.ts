import { commandFrom } from '../../../support/stripe-commands';
import {
  DAY,
  T0,
  discountCreatedEvent,
  discountDeletedEvent,
  invoicePaidEvent,
  invoicePaymentActionRequiredEvent,
  invoicePaymentFailedEvent,
  invoicePaymentSucceededEvent,
  iso,
  subscriptionCreatedEvent,
  subscriptionDeletedEvent,
  subscriptionPausedEvent,
  subscriptionResumedEvent,
  subscriptionTrialWillEndEvent,
  subscriptionUpdatedEvent,
  type SubscriptionSpec,
} from '../../../support/stripe-fixtures';
import { fold } from '../../../../src/shared/decider';
import { deciderSpec, recorded } from '../../../support/decider-spec';
import type { SubscriptionCommand } from '../../../../src/aggregates/subscription/commands';
import { subscriptionDecider } from '../../../../src/aggregates/subscription/decide';
import type { SubscriptionEvent, SubscriptionEventOf } from '../../../../src/aggregates/subscription/events';
import type { StartedSubscription } from '../../../../src/aggregates/subscription/state';

const spec = deciderSpec(subscriptionDecider);
const cmd = (event: unknown) => commandFrom<SubscriptionCommand>(event);

/** The events the decider records for these Stripe events, delivered in this order. */
const history = (...stripeEvents: unknown[]): SubscriptionEvent[] =>
  recorded(subscriptionDecider, stripeEvents.map(cmd));
const stateAfter = (events: SubscriptionEvent[]) => fold(subscriptionDecider, events) as StartedSubscription;

const BASIC = { id: 'price_basic_monthly', unitAmount: 999, product: 'prod_basic' };
const PREMIUM = { id: 'price_premium_monthly', unitAmount: 2999, product: 'prod_premium' };
const TRIAL: SubscriptionSpec = {
  status: 'trialing',
  trialStart: T0,
  trialEnd: T0 + 14 * DAY,
  currentPeriodEnd: T0 + 14 * DAY,
};
const at = (days: number, id = `evt_d${days}`) => ({ id, created: T0 + days * DAY });
const created = (s: SubscriptionSpec = {}) => subscriptionCreatedEvent(s, { id: 'evt_created', created: T0 });
const updated = (s: SubscriptionSpec, days: number, id?: string) => subscriptionUpdatedEvent(s, at(days, id));
const mrr = (amount: number) => ({ amount, currency: 'usd' });

describe('Subscription: first snapshot (customer.subscription.created, or whichever arrives first)', () => {
  it('starts the subscription with its items, dates and MRR', () => {
    const [started, ...rest] = spec.given([]).when(cmd(created())).events();
    expect(rest).toEqual([]);
    expect(started).toEqual<SubscriptionEventOf<'SubscriptionStarted'>>({
      type: 'SubscriptionStarted',
      data: {
        customerId: 'cus_T1',
        subscriptionId: 'sub_T1',
        occurredAt: iso(T0),
        stripeEventId: 'evt_created',
        status: 'active',
        items: [
          {
            itemId: 'si_T1_0',
            priceId: 'price_premium_monthly',
            productId: 'prod_premium',
            lookupKey: null,
            priceMetadata: {},
            unitAmount: 2000,
            currency: 'usd',
            interval: 'month',
            intervalCount: 1,
            quantity: 1,
            metered: false,
          },
        ],
        discounts: [],
        startedAt: iso(T0),
        trialStart: null,
        trialEnd: null,
        currentPeriodStart: iso(T0),
        currentPeriodEnd: iso(T0 + 30 * DAY),
        cancelAtPeriodEnd: false,
        cancelAt: null,
        canceledAt: null,
        endedAt: null,
        cancellationReason: null,
        cancellationFeedback: null,
        pauseCollection: null,
        mrr: mrr(2000),
      },
    });
  });

  it('starts a trial with MRR 0', () => {
    spec
      .given([])
      .when(cmd(created(TRIAL)))
      .thenMatch([
        {
          type: 'SubscriptionStarted',
          data: { status: 'trialing', trialEnd: iso(T0 + 14 * DAY), mrr: mrr(0) },
        },
      ]);
  });

  it('starts an incomplete subscription with MRR 0', () => {
    spec
      .given([])
      .when(cmd(created({ status: 'incomplete' })))
      .thenMatch([{ type: 'SubscriptionStarted', data: { status: 'incomplete', mrr: mrr(0) } }]);
  });

  it('reads the newest API shape (periods on items, discounts list) the same way', () => {
    const legacy = history(created({ discounts: [{ coupon: { percentOff: 25 } }] }));
    const basil = history(
      subscriptionCreatedEvent(
        { discounts: [{ coupon: { percentOff: 25 } }] },
        { id: 'evt_created', created: T0, apiShape: 'basil' },
      ),
    );
    expect(basil).toEqual(legacy);
    expect(basil[0]?.data).toMatchObject({ currentPeriodEnd: iso(T0 + 30 * DAY), mrr: mrr(1500) });
  });

  it('an update that arrives before its created starts the subscription: nothing is lost', () => {
    spec
      .given([])
      .when(cmd(updated({ items: [{ price: PREMIUM }] }, 1)))
      .thenMatch([{ type: 'SubscriptionStarted', data: { occurredAt: iso(T0 + DAY), mrr: mrr(2999) } }]);
  });

  it('then the late created is older: ignored explicitly, and its redelivery writes nothing', () => {
    const given = history(updated({ items: [{ price: PREMIUM }] }, 1));
    spec
      .given(given)
      .when(cmd(created()))
      .thenMatch([
        {
          type: 'SubscriptionStaleEventIgnored',
          data: { reason: 'stale_snapshot', eventAt: iso(T0), knownAt: iso(T0 + DAY) },
        },
      ]);
    spec
      .given(history(updated({ items: [{ price: PREMIUM }] }, 1), created()))
      .when(cmd(created()))
      .then([]);
  });

  it('twice: the same created writes nothing', () => {
    spec.given(history(created())).when(cmd(created())).then([]);
  });
});

describe('Subscription: items changed (upgrade, downgrade, quantity)', () => {
  const basic = history(created({ items: [{ price: BASIC }] }));

  it('upgrade: a dearer price', () => {
    spec
      .given(basic)
      .when(cmd(updated({ items: [{ price: PREMIUM }] }, 1)))
      .thenMatch([
        {
          type: 'SubscriptionItemsChanged',
          data: { change: 'upgrade', previousMrr: mrr(999), mrr: mrr(2999) },
        },
      ]);
  });

  it('downgrade: a cheaper price', () => {
    spec
      .given(history(created({ items: [{ price: PREMIUM }] })))
      .when(cmd(updated({ items: [{ price: BASIC }] }, 1)))
      .thenMatch([
        {
          type: 'SubscriptionItemsChanged',
          data: { change: 'downgrade', previousMrr: mrr(2999), mrr: mrr(999) },
        },
      ]);
  });

  it('quantity up is an upgrade', () => {
    spec
      .given(basic)
      .when(cmd(updated({ items: [{ price: BASIC, quantity: 3 }] }, 1)))
      .thenMatch([{ type: 'SubscriptionItemsChanged', data: { change: 'upgrade', mrr: mrr(2997) } }]);
  });

  it('monthly to annual: MRR follows the annual price / 12', () => {
    const annual = { id: 'price_premium_annual', unitAmount: 29990, interval: 'year' as const };
    spec
      .given(basic)
      .when(cmd(updated({ items: [{ price: annual }], currentPeriodEnd: T0 + 366 * DAY }, 1)))
      .thenMatch([
        { type: 'SubscriptionItemsChanged', data: { change: 'upgrade', mrr: mrr(2499) } },
        { type: 'SubscriptionRenewed' },
      ]);
  });

  it('during a trial the change is still told apart by list price, with MRR 0', () => {
    spec
      .given(history(created({ ...TRIAL, items: [{ price: BASIC }] })))
      .when(cmd(updated({ ...TRIAL, items: [{ price: PREMIUM }] }, 1)))
      .thenMatch([{ type: 'SubscriptionItemsChanged', data: { change: 'upgrade', mrr: mrr(0) } }]);
  });

  it('twice: the same update writes nothing', () => {
    const given = history(
      created({ items: [{ price: BASIC }] }),
      updated({ items: [{ price: PREMIUM }] }, 1),
    );
    spec
      .given(given)
      .when(cmd(updated({ items: [{ price: PREMIUM }] }, 1)))
      .then([]);
  });
});

describe('Subscription: trial', () => {
  const trial = history(created(TRIAL));
  const afterTrial = {
    currentPeriodStart: T0 + 14 * DAY,
    currentPeriodEnd: T0 + 44 * DAY,
    trialStart: T0,
    trialEnd: T0 + 14 * DAY,
  };

  it('trial_will_end: the trial ends soon, once', () => {
    spec
      .given(trial)
      .when(cmd(subscriptionTrialWillEndEvent(TRIAL, at(11))))
      .thenMatch([
        { type: 'SubscriptionSynced' },
        { type: 'SubscriptionTrialEndingSoon', data: { trialEnd: iso(T0 + 14 * DAY) } },
      ]);
  });

  it('twice: the same trial_will_end writes nothing', () => {
    spec
      .given(history(created(TRIAL), subscriptionTrialWillEndEvent(TRIAL, at(11))))
      .when(cmd(subscriptionTrialWillEndEvent(TRIAL, at(11))))
      .then([]);
  });

  it('trial_will_end after the conversion: stale, and no notice', () => {
    const converted = history(created(TRIAL), updated({ status: 'active', ...afterTrial }, 14));
    spec
      .given(converted)
      .when(cmd(subscriptionTrialWillEndEvent(TRIAL, at(11))))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'stale_snapshot' } }]);
  });

  it('converted: trialing to active starts paying, the period advances', () => {
    spec
      .given(trial)
      .when(cmd(updated({ status: 'active', ...afterTrial }, 14)))
      .thenMatch([
        {
          type: 'SubscriptionRenewed',
          data: { previousPeriodEnd: iso(T0 + 14 * DAY), currentPeriodEnd: iso(T0 + 44 * DAY) },
        },
        { type: 'SubscriptionTrialConverted', data: { from: 'trialing', status: 'active', mrr: mrr(2000) } },
      ]);
  });

  it('ended without payment: trialing to past_due (past_due still counts)', () => {
    spec
      .given(trial)
      .when(cmd(updated({ status: 'past_due', ...afterTrial }, 14)))
      .thenState((state, events) => {
        expect(events.map((e) => e.type)).toEqual([
          'SubscriptionRenewed',
          'SubscriptionTrialEndedWithoutPayment',
        ]);
        expect(state).toMatchObject({ status: 'past_due', mrr: mrr(2000), trialEndedWithoutPayment: true });
      });
  });

  it('ended without payment: cancelled at the trial end', () => {
    const ended = {
      ...TRIAL,
      status: 'canceled' as const,
      canceledAt: T0 + 14 * DAY,
      endedAt: T0 + 14 * DAY,
      cancellationReason: 'payment_failed' as const,
    };
    spec
      .given(trial)
      .when(cmd(subscriptionDeletedEvent(ended, at(14))))
      .thenMatch([
        { type: 'SubscriptionTrialEndedWithoutPayment', data: { status: 'canceled', mrr: mrr(0) } },
        {
          type: 'SubscriptionCancelled',
          data: { from: 'trialing', reason: 'payment_failed', endedAt: iso(T0 + 14 * DAY), mrr: mrr(0) },
        },
      ]);
  });

  it('ended without payment: paused at the trial end', () => {
    spec
      .given(trial)
      .when(cmd(subscriptionPausedEvent({ ...TRIAL, status: 'paused' }, at(14))))
      .thenMatch([
        { type: 'SubscriptionTrialEndedWithoutPayment', data: { status: 'paused' } },
        { type: 'SubscriptionPaused', data: { status: 'paused', mrr: mrr(0) } },
      ]);
  });

  it('a trial cancelled by the customer before its end is just cancelled', () => {
    const cancelled = {
      ...TRIAL,
      status: 'canceled' as const,
      canceledAt: T0 + 3 * DAY,
      endedAt: T0 + 3 * DAY,
      cancellationReason: 'cancellation_requested' as const,
    };
    spec
      .given(trial)
      .when(cmd(subscriptionDeletedEvent(cancelled, at(3))))
      .thenMatch([{ type: 'SubscriptionCancelled', data: { reason: 'cancellation_requested' } }]);
  });

  it('a moved trial end has no event of its own: the snapshot is taken whole', () => {
    spec
      .given(trial)
      .when(cmd(updated({ ...TRIAL, trialEnd: T0 + 21 * DAY }, 2)))
      .thenState((state, events) => {
        expect(events.map((e) => e.type)).toEqual(['SubscriptionSynced']);
        expect(state.started && state.trialEnd).toBe(iso(T0 + 21 * DAY));
      });
  });
});

describe('Subscription: discounts in the snapshot', () => {
  const plain = history(created());

  it('applied: MRR after the discount', () => {
    spec
      .given(plain)
      .when(cmd(updated({ discounts: [{ id: 'di_1', coupon: { id: 'SAVE20', percentOff: 20 } }] }, 1)))
      .thenMatch([
        {
          type: 'SubscriptionDiscountApplied',
          data: {
            discount: expect.objectContaining({ id: 'di_1', percentOffBps: 2000 }),
            fromSnapshot: true,
            mrr: mrr(1600),
          },
        },
      ]);
  });

  it('removed: MRR back to the list price', () => {
    const given = history(created({ discounts: [{ id: 'di_1', coupon: { amountOff: 500 } }] }));
    expect(stateAfter(given).mrr).toEqual(mrr(1500));
    spec
      .given(given)
      .when(cmd(updated({}, 1)))
      .thenMatch([
        {
          type: 'SubscriptionDiscountRemoved',
          data: { discountId: 'di_1', fromSnapshot: true, mrr: mrr(2000) },
        },
      ]);
  });
});

describe('Subscription: customer.discount.created / deleted for the subscription', () => {
  const discount = { id: 'di_9', subscription: 'sub_T1', coupon: { id: 'HALF', percentOff: 50 } };

  it('applied when newer than the snapshot', () => {
    spec
      .given(history(created()))
      .when(cmd(discountCreatedEvent(discount, at(1))))
      .thenMatch([{ type: 'SubscriptionDiscountApplied', data: { fromSnapshot: false, mrr: mrr(1000) } }]);
  });

  it('then a snapshot older than the discount event does not take it away', () => {
    const given = history(created(), discountCreatedEvent(discount, at(2)));
    spec
      .given(given)
      .when(cmd(updated({ items: [{ price: PREMIUM }] }, 1)))
      .thenState((state) => {
        expect(state.started && state.discounts.map((d) => d.id)).toEqual(['di_9']);
        expect(state.started && state.mrr).toEqual(mrr(1500));
      });
  });

  it('older than the snapshot: ignored explicitly', () => {
    spec
      .given(history(created(), updated({}, 2)))
      .when(cmd(discountCreatedEvent(discount, at(1))))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'stale_discount_event' } }]);
  });

  it('the same second as a snapshot that already lists it: recorded as already in effect', () => {
    spec
      .given(history(created(), updated({ discounts: [discount] }, 1)))
      .when(cmd(discountCreatedEvent(discount, at(1, 'evt_disc'))))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'already_in_effect' } }]);
  });

  it('removed', () => {
    spec
      .given(history(created(), discountCreatedEvent(discount, at(1))))
      .when(cmd(discountDeletedEvent(discount, at(2))))
      .thenMatch([
        {
          type: 'SubscriptionDiscountRemoved',
          data: { discountId: 'di_9', fromSnapshot: false, mrr: mrr(2000) },
        },
      ]);
  });

  it('before the subscription is known: kept, and counted when it starts', () => {
    const given = history(discountCreatedEvent(discount, at(1)));
    expect(given.map((e) => e.type)).toEqual(['SubscriptionDiscountApplied']);
    spec
      .given(given)
      .when(cmd(created()))
      .thenMatch([{ type: 'SubscriptionStarted', data: { mrr: mrr(1000) } }]);
  });

  it('twice: the same removal writes nothing', () => {
    const given = history(
      created(),
      discountCreatedEvent(discount, at(1)),
      discountDeletedEvent(discount, at(2)),
    );
    spec
      .given(given)
      .when(cmd(discountDeletedEvent(discount, at(2))))
      .then([]);
  });

  it('twice: the same discount event writes nothing', () => {
    spec
      .given(history(created(), discountCreatedEvent(discount, at(1))))
      .when(cmd(discountCreatedEvent(discount, at(1))))
      .then([]);
  });
});

describe('Subscription: cancellation', () => {
  const active = history(created());
  const scheduled = {
    cancelAtPeriodEnd: true,
    cancellationReason: 'cancellation_requested' as const,
    cancellationFeedback: 'too_expensive',
  };

  it('scheduled at period end: access and MRR last until the end', () => {
    spec
      .given(active)
      .when(cmd(updated(scheduled, 5)))
      .thenState((state, events) => {
        expect(events).toEqual([
          expect.objectContaining({
            type: 'SubscriptionCancellationScheduled',
            data: expect.objectContaining({
              cancelAtPeriodEnd: true,
              endsAt: iso(T0 + 30 * DAY),
              feedback: 'too_expensive',
            }),
          }),
        ]);
        expect(state).toMatchObject({ status: 'active', cancelAtPeriodEnd: true, mrr: mrr(2000) });
      });
  });

  it('scheduled at a date (cancel_at)', () => {
    spec
      .given(active)
      .when(cmd(updated({ cancelAt: T0 + 20 * DAY }, 5)))
      .thenMatch([
        {
          type: 'SubscriptionCancellationScheduled',
          data: { cancelAt: iso(T0 + 20 * DAY), endsAt: iso(T0 + 20 * DAY) },
        },
      ]);
  });

  it('withdrawn', () => {
    spec
      .given(history(created(), updated(scheduled, 5)))
      .when(cmd(updated({}, 6)))
      .thenMatch([{ type: 'SubscriptionCancellationWithdrawn' }]);
  });

  it('cancelled at the period end: MRR goes to 0, with the reason', () => {
    const ended = {
      ...scheduled,
      status: 'canceled' as const,
      canceledAt: T0 + 5 * DAY,
      endedAt: T0 + 30 * DAY,
    };
    spec
      .given(history(created(), updated(scheduled, 5)))
      .when(cmd(subscriptionDeletedEvent(ended, at(30))))
      .thenMatch([
        {
          type: 'SubscriptionCancelled',
          data: {
            from: 'active',
            status: 'canceled',
            reason: 'cancellation_requested',
            feedback: 'too_expensive',
            endedAt: iso(T0 + 30 * DAY),
            mrr: mrr(0),
          },
        },
      ]);
  });

  const cancelled = history(
    created(),
    subscriptionDeletedEvent({ status: 'canceled', canceledAt: T0 + DAY, endedAt: T0 + DAY }, at(1)),
  );

  it('terminal: a later live snapshot is ignored explicitly', () => {
    spec
      .given(cancelled)
      .when(cmd(updated({ status: 'active' }, 2)))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'subscription_ended' } }]);
  });

  it('terminal: a discount event after the end is ignored explicitly', () => {
    spec
      .given(cancelled)
      .when(cmd(discountCreatedEvent({ subscription: 'sub_T1' }, at(2))))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'subscription_ended' } }]);
  });

  it('twice: the same deletion writes nothing', () => {
    spec
      .given(cancelled)
      .when(
        cmd(subscriptionDeletedEvent({ status: 'canceled', canceledAt: T0 + DAY, endedAt: T0 + DAY }, at(1))),
      )
      .then([]);
  });
});

describe('Subscription: pause and resume', () => {
  it('paused collection (status stays active): MRR 0', () => {
    spec
      .given(history(created()))
      .when(cmd(updated({ pauseCollection: { behavior: 'void', resumesAt: T0 + 40 * DAY } }, 3)))
      .thenMatch([
        {
          type: 'SubscriptionPaused',
          data: {
            status: 'active',
            pauseCollection: { behavior: 'void', resumesAt: iso(T0 + 40 * DAY) },
            mrr: mrr(0),
          },
        },
      ]);
  });

  it('collection resumed: MRR back', () => {
    spec
      .given(history(created(), updated({ pauseCollection: { behavior: 'void' } }, 3)))
      .when(cmd(updated({}, 9)))
      .thenMatch([{ type: 'SubscriptionResumed', data: { status: 'active', mrr: mrr(2000) } }]);
  });

  it('customer.subscription.resumed: paused to active', () => {
    const paused = history(created(TRIAL), subscriptionPausedEvent({ ...TRIAL, status: 'paused' }, at(14)));
    spec
      .given(paused)
      .when(
        cmd(
          subscriptionResumedEvent(
            {
              ...TRIAL,
              status: 'active',
              currentPeriodStart: T0 + 20 * DAY,
              currentPeriodEnd: T0 + 50 * DAY,
            },
            at(20),
          ),
        ),
      )
      .thenMatch([
        { type: 'SubscriptionRenewed' },
        { type: 'SubscriptionResumed', data: { from: 'paused', status: 'active', mrr: mrr(2000) } },
      ]);
  });
});

describe('Subscription: renewals and payment status', () => {
  const active = history(created());

  it('renewed: the period advanced', () => {
    spec
      .given(active)
      .when(cmd(updated({ currentPeriodStart: T0 + 30 * DAY, currentPeriodEnd: T0 + 60 * DAY }, 30)))
      .thenMatch([
        {
          type: 'SubscriptionRenewed',
          data: {
            previousPeriodEnd: iso(T0 + 30 * DAY),
            currentPeriodStart: iso(T0 + 30 * DAY),
            currentPeriodEnd: iso(T0 + 60 * DAY),
          },
        },
      ]);
  });

  it('became past_due: still counted', () => {
    spec
      .given(active)
      .when(cmd(updated({ status: 'past_due' }, 30)))
      .thenMatch([{ type: 'SubscriptionBecamePastDue', data: { from: 'active', mrr: mrr(2000) } }]);
  });

  it('became unpaid: no longer counted', () => {
    spec
      .given(history(created(), updated({ status: 'past_due' }, 30)))
      .when(cmd(updated({ status: 'unpaid' }, 45)))
      .thenMatch([{ type: 'SubscriptionBecameUnpaid', data: { from: 'past_due', mrr: mrr(0) } }]);
  });

  it('payment recovered: unpaid back to active', () => {
    spec
      .given(history(created(), updated({ status: 'past_due' }, 30), updated({ status: 'unpaid' }, 45)))
      .when(cmd(updated({ status: 'active' }, 50)))
      .thenMatch([
        { type: 'SubscriptionPaymentRecovered', data: { from: 'unpaid', status: 'active', mrr: mrr(2000) } },
      ]);
  });

  it('incomplete to active once the first payment succeeds', () => {
    spec
      .given(history(created({ status: 'incomplete' })))
      .when(cmd(updated({ status: 'active' }, 1)))
      .thenMatch([
        { type: 'SubscriptionStatusChanged', data: { from: 'incomplete', status: 'active', mrr: mrr(2000) } },
      ]);
  });

  it('incomplete_expired is terminal', () => {
    const expired = history(
      created({ status: 'incomplete' }),
      updated({ status: 'incomplete_expired', endedAt: T0 + DAY }, 1),
    );
    expect(expired.map((e) => e.type)).toEqual([
      'SubscriptionStarted',
      'SubscriptionStatusChanged',
      'SubscriptionSynced',
    ]);
    spec
      .given(expired)
      .when(cmd(updated({ status: 'active' }, 2)))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'subscription_ended' } }]);
  });

  it('a newer snapshot with nothing new still moves the clock (SubscriptionSynced)', () => {
    spec
      .given(active)
      .when(cmd(updated({}, 1)))
      .thenMatch([{ type: 'SubscriptionSynced', data: { occurredAt: iso(T0 + DAY) } }]);
  });

  it('two snapshots of the same second: the greater event id wins, whichever comes first', () => {
    const a = updated({ items: [{ price: BASIC }] }, 1, 'evt_a');
    const b = updated({ items: [{ price: PREMIUM }] }, 1, 'evt_b');
    expect(stateAfter(history(created(), a, b)).items[0]?.priceId).toBe('price_premium_monthly');
    expect(stateAfter(history(created(), b, a)).items[0]?.priceId).toBe('price_premium_monthly');
    spec
      .given(history(created(), b))
      .when(cmd(a))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'stale_snapshot' } }]);
  });
});

describe('Subscription: invoices', () => {
  const active = history(created());
  const failed = (attempt: number, days: number) =>
    invoicePaymentFailedEvent(
      {
        id: 'in_1',
        attemptCount: attempt,
        nextPaymentAttempt: T0 + (days + 3) * DAY,
        declineCode: 'insufficient_funds',
      },
      at(days, `evt_fail_${attempt}`),
    );
  const paid = invoicePaidEvent({ id: 'in_1', attemptCount: 3, amountPaid: 2000 }, at(40, 'evt_paid'));

  it('paid', () => {
    spec
      .given(active)
      .when(cmd(paid))
      .thenMatch([
        {
          type: 'SubscriptionInvoicePaid',
          data: {
            invoiceId: 'in_1',
            amountPaid: 2000,
            attemptCount: 3,
            currency: 'usd',
            billingReason: 'subscription_cycle',
          },
        },
      ]);
  });

  it('twice: the same invoice.paid, or invoice.payment_succeeded for the same invoice, writes nothing', () => {
    const given = history(created(), paid);
    spec.given(given).when(cmd(paid)).then([]);
    spec
      .given(given)
      .when(cmd(invoicePaymentSucceededEvent({ id: 'in_1', attemptCount: 3 }, at(40, 'evt_succeeded'))))
      .then([]);
  });

  it('payment failed: attempt, next attempt and decline code', () => {
    spec
      .given(active)
      .when(cmd(failed(1, 30)))
      .thenMatch([
        {
          type: 'SubscriptionPaymentFailed',
          data: {
            invoiceId: 'in_1',
            attemptCount: 1,
            nextPaymentAttempt: iso(T0 + 33 * DAY),
            declineCode: 'insufficient_funds',
            failureMessage: 'Your card was declined.',
            amountDue: 2000,
          },
        },
      ]);
  });

  it('twice: the same failure writes nothing', () => {
    spec
      .given(history(created(), failed(1, 30)))
      .when(cmd(failed(1, 30)))
      .then([]);
  });

  it('an older attempt arriving late is ignored explicitly', () => {
    spec
      .given(history(created(), failed(2, 33)))
      .when(cmd(failed(1, 30)))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'older_payment_attempt' } }]);
  });

  it('a failure arriving after the invoice was paid is ignored explicitly', () => {
    spec
      .given(history(created(), paid))
      .when(cmd(failed(2, 33)))
      .thenMatch([{ type: 'SubscriptionStaleEventIgnored', data: { reason: 'invoice_already_paid' } }]);
  });

  it('payment action required (3-D Secure), once', () => {
    const action = invoicePaymentActionRequiredEvent({ id: 'in_1', attemptCount: 1 }, at(30, 'evt_action'));
    spec
      .given(active)
      .when(cmd(action))
      .thenMatch([
        {
          type: 'SubscriptionPaymentActionRequired',
          data: { invoiceId: 'in_1', attemptCount: 1, hostedInvoiceUrl: expect.stringContaining('https://') },
        },
      ]);
    spec.given(history(created(), action)).when(cmd(action)).then([]);
  });

  it('an invoice before any snapshot of its subscription is kept', () => {
    spec
      .given([])
      .when(cmd(paid))
      .thenState((state, events) => {
        expect(events.map((e) => e.type)).toEqual(['SubscriptionInvoicePaid']);
        expect(state).toMatchObject({
          started: false,
          subscriptionId: 'sub_T1',
          customerId: 'cus_T1',
          invoices: { in_1: { status: 'paid' } },
        });
      });
  });
});
