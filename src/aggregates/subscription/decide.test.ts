import { commandFrom } from '../../commands/stripe/test-commands';
import { DAY, T0, iso, subscriptionCreatedEvent, type EventOptions, type SubscriptionSpec } from '../../../test/support/stripe-fixtures';
import { deciderSpec } from '../shared/decider-spec';
import type { SubscriptionCommand } from './commands';
import { subscriptionDecider } from './decide';
import type { SubscriptionEvent, SubscriptionEventOf } from './events';

const spec = deciderSpec(subscriptionDecider);
const sync = (event: unknown) => commandFrom<SubscriptionCommand>(event);
const decide = (given: SubscriptionEvent[], event: unknown) => spec.given(given).when(sync(event)).events();

const created = (s: SubscriptionSpec = {}, o: EventOptions = {}) => subscriptionCreatedEvent(s, { id: 'evt_created', created: T0, ...o });

describe('Subscription: customer.subscription.created', () => {
  it('starts the subscription with its items, dates and MRR', () => {
    const [started, ...rest] = decide([], created());
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
        mrr: { amount: 2000, currency: 'usd' },
      },
    });
  });

  it('starts a trial with MRR 0', () => {
    const [started] = decide([], created({ status: 'trialing', trialStart: T0, trialEnd: T0 + 14 * DAY }));
    expect(started).toMatchObject({ type: 'SubscriptionStarted', data: { status: 'trialing', trialEnd: iso(T0 + 14 * DAY), mrr: { amount: 0, currency: 'usd' } } });
  });

  it('starts an incomplete subscription with MRR 0', () => {
    const [started] = decide([], created({ status: 'incomplete' }));
    expect(started).toMatchObject({ type: 'SubscriptionStarted', data: { status: 'incomplete', mrr: { amount: 0 } } });
  });

  it('reads the newest API shape (periods on items, discounts list) the same way', () => {
    const legacy = decide([], created({ discounts: [{ coupon: { percentOff: 25 } }] }))[0]!;
    const basil = decide([], created({ discounts: [{ coupon: { percentOff: 25 } }] }, { apiShape: 'basil' }))[0]!;
    expect(basil).toEqual(legacy);
    expect(basil.data).toMatchObject({ currentPeriodEnd: iso(T0 + 30 * DAY), mrr: { amount: 1500 } });
  });

  it('twice: the same created writes nothing', () => {
    const first = decide([], created());
    spec.given(first).when(sync(created())).then([]);
  });
});
