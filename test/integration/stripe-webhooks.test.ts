import { customerStream, subscriptionStream } from '../../src/aggregates/streams';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { eventually, startTestSystem, type TestSystem } from '../support/app';
import {
  DAY,
  T0,
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
  subscriptionCreatedEvent,
  subscriptionDeletedEvent,
  subscriptionPausedEvent,
  subscriptionResumedEvent,
  subscriptionTrialWillEndEvent,
  subscriptionUpdatedEvent,
  type StripeEvent,
} from '../support/stripe-fixtures';

/**
 * Every Stripe type the domain acts on, posted as a signed webhook to the running gateway
 * (PostgreSQL inbox and event store), lands in the store as the expected domain events.
 */
const CUS = 'cus_W1';
const SUB = 'sub_W1';
const SUB2 = 'sub_W2';
const TRIAL = {
  id: SUB,
  customer: CUS,
  status: 'trialing' as const,
  trialStart: T0,
  trialEnd: T0 + 14 * DAY,
  currentPeriodEnd: T0 + 14 * DAY,
};
const CONVERTED = {
  ...TRIAL,
  status: 'active' as const,
  currentPeriodStart: T0 + 14 * DAY,
  currentPeriodEnd: T0 + 44 * DAY,
};
const TRIAL2 = { ...TRIAL, id: SUB2 };
const at = (days: number, id: string) => ({ id, created: T0 + days * DAY });

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem();
});

afterAll(async () => {
  await system?.stop();
});

/** Post signed; wait until the inbox processed it; answer the types it appended to the stream. */
async function deliver(event: StripeEvent<object>, streamName: string): Promise<string[]> {
  const response = await system.postWebhook(event);
  expect(response.status).toBe(200);
  await eventually(
    async () =>
      (await system.pool.query(`SELECT status FROM stripe_inbox WHERE stripe_event_id = $1`, [event.id]))
        .rows[0]?.status as string | undefined,
    (status) => status !== undefined && status !== 'pending',
  );
  const recorded = await system.store.readStream(streamName);
  return recorded.filter((e) => e.metadata.stripeEventId === event.id).map((e) => e.type);
}

describe('Stripe webhooks -> domain events in the store', () => {
  it.each<[string, () => StripeEvent<object>, string, string[]]>([
    [
      'customer.created',
      () => customerCreatedEvent({ id: CUS }, at(0, 'evt_w01')),
      customerStream(CUS),
      ['CustomerRegistered'],
    ],
    [
      'customer.updated',
      () => customerUpdatedEvent({ id: CUS, name: 'Jane Roe' }, at(1, 'evt_w02')),
      customerStream(CUS),
      ['CustomerProfileChanged'],
    ],
    [
      'payment_method.attached',
      () => paymentMethodAttachedEvent({ id: 'pm_W1', customer: CUS }, at(1, 'evt_w03')),
      customerStream(CUS),
      ['CustomerPaymentMethodAttached'],
    ],
    [
      'payment_method.detached',
      () => paymentMethodDetachedEvent({ id: 'pm_W1', customer: CUS }, at(2, 'evt_w04')),
      customerStream(CUS),
      ['CustomerPaymentMethodDetached'],
    ],
    [
      'customer.discount.created (customer-wide)',
      () => discountCreatedEvent({ id: 'di_WC', customer: CUS }, at(2, 'evt_w05')),
      customerStream(CUS),
      ['CustomerDiscountApplied'],
    ],
    [
      'customer.discount.deleted (customer-wide)',
      () => discountDeletedEvent({ id: 'di_WC', customer: CUS }, at(3, 'evt_w06')),
      customerStream(CUS),
      ['CustomerDiscountRemoved'],
    ],
    [
      'customer.subscription.created',
      () => subscriptionCreatedEvent(TRIAL, at(0, 'evt_w07')),
      subscriptionStream(SUB),
      ['SubscriptionStarted'],
    ],
    [
      'customer.subscription.trial_will_end',
      () => subscriptionTrialWillEndEvent(TRIAL, at(11, 'evt_w08')),
      subscriptionStream(SUB),
      ['SubscriptionSynced', 'SubscriptionTrialEndingSoon'],
    ],
    [
      'customer.subscription.updated',
      () => subscriptionUpdatedEvent(CONVERTED, at(14, 'evt_w09')),
      subscriptionStream(SUB),
      ['SubscriptionRenewed', 'SubscriptionTrialConverted'],
    ],
    [
      'customer.discount.created (subscription)',
      () => discountCreatedEvent({ id: 'di_WS', customer: CUS, subscription: SUB }, at(15, 'evt_w10')),
      subscriptionStream(SUB),
      ['SubscriptionDiscountApplied'],
    ],
    [
      'customer.discount.deleted (subscription)',
      () => discountDeletedEvent({ id: 'di_WS', customer: CUS, subscription: SUB }, at(16, 'evt_w11')),
      subscriptionStream(SUB),
      ['SubscriptionDiscountRemoved'],
    ],
    [
      'invoice.payment_failed',
      () =>
        invoicePaymentFailedEvent(
          { id: 'in_W1', customer: CUS, subscription: SUB, attemptCount: 1 },
          at(44, 'evt_w12'),
        ),
      subscriptionStream(SUB),
      ['SubscriptionPaymentFailed'],
    ],
    [
      'invoice.payment_action_required',
      () =>
        invoicePaymentActionRequiredEvent(
          { id: 'in_W1', customer: CUS, subscription: SUB, attemptCount: 2 },
          at(46, 'evt_w13'),
        ),
      subscriptionStream(SUB),
      ['SubscriptionPaymentActionRequired'],
    ],
    [
      'invoice.paid',
      () =>
        invoicePaidEvent(
          { id: 'in_W1', customer: CUS, subscription: SUB, attemptCount: 2 },
          at(46, 'evt_w14'),
        ),
      subscriptionStream(SUB),
      ['SubscriptionInvoicePaid'],
    ],
    [
      'invoice.payment_succeeded',
      () =>
        invoicePaymentSucceededEvent({ id: 'in_W2', customer: CUS, subscription: SUB }, at(74, 'evt_w15')),
      subscriptionStream(SUB),
      ['SubscriptionInvoicePaid'],
    ],
    [
      'customer.subscription.deleted',
      () =>
        subscriptionDeletedEvent(
          {
            ...CONVERTED,
            status: 'canceled',
            canceledAt: T0 + 80 * DAY,
            endedAt: T0 + 80 * DAY,
            cancellationReason: 'cancellation_requested',
          },
          at(80, 'evt_w16'),
        ),
      subscriptionStream(SUB),
      ['SubscriptionCancelled'],
    ],
    [
      'customer.subscription.created (second subscription)',
      () => subscriptionCreatedEvent(TRIAL2, at(81, 'evt_w17')),
      subscriptionStream(SUB2),
      ['SubscriptionStarted'],
    ],
    [
      'customer.subscription.paused',
      () => subscriptionPausedEvent({ ...TRIAL2, status: 'paused' }, at(95, 'evt_w18')),
      subscriptionStream(SUB2),
      ['SubscriptionTrialEndedWithoutPayment', 'SubscriptionPaused'],
    ],
    [
      'customer.subscription.resumed',
      () => subscriptionResumedEvent({ ...TRIAL2, status: 'active' }, at(97, 'evt_w19')),
      subscriptionStream(SUB2),
      ['SubscriptionResumed'],
    ],
    [
      'customer.deleted',
      () => customerDeletedEvent({ id: CUS, name: 'Jane Roe' }, at(99, 'evt_w20')),
      customerStream(CUS),
      ['CustomerDeleted'],
    ],
  ])('%s', async (_type, build, streamName, expected) => {
    expect(await deliver(build(), streamName)).toEqual(expected);
  });

  it('a redelivery appends nothing: through the gateway, or past the inbox straight to the domain', async () => {
    const event = subscriptionUpdatedEvent(CONVERTED, at(14, 'evt_w09'));
    const before = await system.store.readStream(subscriptionStream(SUB));
    expect((await system.postWebhook(event)).status).toBe(200);
    await system.settle();
    const again = await processStripeEvent(system.store, event);
    expect(again.appended).toEqual([{ streamName: subscriptionStream(SUB), count: 0 }]);
    expect(await system.store.readStream(subscriptionStream(SUB))).toHaveLength(before.length);
  });

  it('a customer.created without an email is recorded with its warning; one that is no Stripe customer is refused and appends nothing', async () => {
    expect(
      await deliver(
        customerCreatedEvent({ id: 'cus_W8', email: null }, at(0, 'evt_w89')),
        customerStream('cus_W8'),
      ),
    ).toEqual(['CustomerRegistered']);
    const [registered] = await system.store.readStream(customerStream('cus_W8'));
    expect(registered?.data).toMatchObject({
      email: null,
      warnings: ['no email: email notifications impossible'],
    });

    expect(
      await deliver(customerCreatedEvent({ id: 'acct_W9' }, at(0, 'evt_w90')), customerStream('acct_W9')),
    ).toEqual([]);
    const row = (
      await system.pool.query(`SELECT status, outcome FROM stripe_inbox WHERE stripe_event_id = 'evt_w90'`)
    ).rows[0];
    expect(row?.status).toBe('invalid');
    expect(JSON.stringify(row?.outcome)).toContain('must start with cus_');
  });

  it('an unknown type is acknowledged and appends nothing', async () => {
    const head = await system.store.headPosition();
    expect(
      await deliver(
        stripeEvent('charge.refunded', { id: 'ch_W1', object: 'charge' }, at(0, 'evt_w91')),
        customerStream(CUS),
      ),
    ).toEqual([]);
    expect(await system.store.headPosition()).toBe(head);
  });
});
