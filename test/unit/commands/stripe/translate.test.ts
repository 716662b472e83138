import {
  customerCreatedEvent,
  customerDeletedEvent,
  customerUpdatedEvent,
  discountCreatedEvent,
  invoicePaymentFailedEvent,
  paymentMethodDetachedEvent,
  stripeEvent,
  paymentMethodObject,
  subscriptionCreatedEvent,
  type StripeEvent,
} from '../../../support/stripe-fixtures';
import { MemoryEventStore } from '../../../../src/eventstore/memory-event-store';
import { processStripeEvent } from '../../../../src/commands/process-stripe-event';
import { stripeEventEnvelope } from '../../../../src/commands/stripe/schemas';
import {
  CUSTOMER_WARNINGS,
  HANDLED_STRIPE_EVENT_TYPES,
  translateStripeEvent,
  type Translation,
} from '../../../../src/commands/stripe/translate';

const translate = (event: StripeEvent<object>): Translation =>
  translateStripeEvent(stripeEventEnvelope.parse(event));
const commandOf = (event: StripeEvent<object>) => {
  const t = translate(event);
  if (t.kind !== 'commands') throw new Error(`${t.kind}: ${t.reason}`);
  return t.commands[0]?.command;
};

describe('Stripe -> commands', () => {
  it('acts on every Stripe type of the issue', () => {
    expect([...HANDLED_STRIPE_EVENT_TYPES].sort()).toEqual(
      [
        'customer.created',
        'customer.updated',
        'customer.deleted',
        'customer.subscription.created',
        'customer.subscription.updated',
        'customer.subscription.deleted',
        'customer.subscription.trial_will_end',
        'customer.subscription.paused',
        'customer.subscription.resumed',
        'invoice.paid',
        'invoice.payment_succeeded',
        'invoice.payment_failed',
        'invoice.payment_action_required',
        'payment_method.attached',
        'payment_method.detached',
        'customer.discount.created',
        'customer.discount.deleted',
      ].sort(),
    );
  });

  it('an unknown type is unhandled, not an error', () => {
    expect(translate(stripeEvent('charge.refunded', { id: 'ch_1' }))).toEqual({
      kind: 'unhandled',
      reason: 'no handler for Stripe event type charge.refunded',
    });
  });

  describe('customers: only a payload that is not a Stripe customer is refused; what it lacks is a warning', () => {
    it('a customer without an email (legal in Stripe) gives a command with the warning, not invalid', () => {
      const t = translate(customerCreatedEvent({ email: null }));
      expect(t.kind).toBe('commands');
      expect(commandOf(customerCreatedEvent({ email: null }))).toMatchObject({
        type: 'SyncCustomer',
        snapshot: { customerId: 'cus_T1', email: null, userId: 'u_42' },
        warnings: ['no email: email notifications impossible'],
      });
    });

    it.each([
      ['a malformed email', { email: 'not-an-email' }, [CUSTOMER_WARNINGS.badEmail('not-an-email')]],
      ['no user id in metadata', { metadata: { plan: 'x' } }, [CUSTOMER_WARNINGS.noUserId]],
      ['neither', { email: null, metadata: {} }, [CUSTOMER_WARNINGS.noEmail, CUSTOMER_WARNINGS.noUserId]],
    ])('%s is a warning on the command', (_what, spec, warnings) => {
      expect(commandOf(customerCreatedEvent(spec))).toMatchObject({ type: 'SyncCustomer', warnings });
      expect(commandOf(customerUpdatedEvent(spec))).toMatchObject({ type: 'SyncCustomer', warnings });
    });

    it('a complete customer carries no warnings; a deleted one is not warned about', () => {
      expect(commandOf(customerCreatedEvent())).not.toHaveProperty('warnings');
      expect(commandOf(customerDeletedEvent({ email: null, metadata: {} }))).not.toHaveProperty('warnings');
    });

    it('an id that is not a customer id is invalid, with the reason', () => {
      expect(translate(customerCreatedEvent({ id: 'acct_123' }))).toEqual({
        kind: 'invalid',
        reason: 'Invalid customer data: Stripe customer id must start with cus_ (got acct_123)',
      });
    });

    it('no id at all, a wrong type or another kind of object is invalid', () => {
      const noId = customerCreatedEvent();
      delete (noId.data.object as { id?: string }).id;
      expect(translate(noId)).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('id') });
      const wrongType = customerCreatedEvent();
      (wrongType.data.object as { email: unknown }).email = 42;
      expect(translate(wrongType)).toMatchObject({
        kind: 'invalid',
        reason: expect.stringContaining('email'),
      });
      const charge = customerCreatedEvent();
      (charge.data.object as { object: string }).object = 'charge';
      expect(translate(charge)).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('object') });
    });

    it('a customer without an email is registered, the warning stored with the fact', async () => {
      const store = new MemoryEventStore();
      const result = await processStripeEvent(store, customerCreatedEvent({ email: null }));
      expect(result).toMatchObject({ outcome: 'applied', appended: [{ count: 1 }] });
      const [registered] = await store.readStream('customer-cus_T1');
      expect(registered).toMatchObject({
        type: 'CustomerRegistered',
        data: { email: null, warnings: ['no email: email notifications impossible'] },
      });
    });

    it('invalid appends nothing', async () => {
      const store = new MemoryEventStore();
      const result = await processStripeEvent(store, customerCreatedEvent({ id: 'acct_1' }));
      expect(result).toMatchObject({
        outcome: 'invalid',
        reason: expect.stringContaining('must start with cus_'),
        appended: [],
      });
      expect(await store.headPosition()).toBe(0n);
    });
  });

  describe('invoices, in both API shapes', () => {
    it('the subscription from `subscription` (legacy) or `parent.subscription_details` (basil), the decline code from the payment intent or the finalization error', () => {
      const legacy = commandOf(
        invoicePaymentFailedEvent({ declineCode: 'expired_card' }, { id: 'evt_1', apiShape: 'legacy' }),
      );
      const basil = commandOf(
        invoicePaymentFailedEvent({ declineCode: 'expired_card' }, { id: 'evt_1', apiShape: 'basil' }),
      );
      expect(basil).toEqual(legacy);
      expect(legacy).toMatchObject({
        type: 'RecordPaymentFailed',
        subscriptionId: 'sub_T1',
        declineCode: 'expired_card',
        attemptCount: 1,
      });
    });

    it('an invoice of no subscription is acknowledged with nothing to record', () => {
      expect(translate(invoicePaymentFailedEvent({ subscription: null }))).toEqual({
        kind: 'commands',
        commands: [],
        note: 'invoice in_T1 belongs to no subscription: nothing to record',
      });
    });

    it('an invoice naming something that is no subscription id is acknowledged with nothing to record', () => {
      expect(translate(invoicePaymentFailedEvent({ subscription: 'subscription' }))).toEqual({
        kind: 'commands',
        commands: [],
        note: 'invoice in_T1 names subscription subscription, not a Stripe subscription id (sub_...): nothing to record',
      });
    });
  });

  describe('subscriptions', () => {
    it('unit_amount_decimal is rounded half up without floats; metered items are flagged', () => {
      const command = commandOf(
        subscriptionCreatedEvent({
          items: [
            { price: { unitAmount: null, unitAmountDecimal: '1234.5' } },
            { price: { id: 'price_usage', metered: true } },
          ],
        }),
      );
      expect(command).toMatchObject({
        snapshot: { items: [{ unitAmount: 1235, metered: false }, { metered: true }] },
      });
    });

    it('a non-recurring price is invalid, with the path of the problem', () => {
      const event = subscriptionCreatedEvent();
      (event.data.object.items.data[0]!.price as { recurring: unknown }).recurring = null;
      expect(translate(event)).toMatchObject({
        kind: 'invalid',
        reason: expect.stringContaining('items.data.0.price.recurring'),
      });
    });

    it('a customer id that is not cus_ is rejected by the command schema', () => {
      expect(translate(subscriptionCreatedEvent({ customer: 'acct_1' }))).toMatchObject({
        kind: 'invalid',
        reason: expect.stringContaining('snapshot.customerId'),
      });
    });
  });

  it('a discount whose coupon terms are not in the payload: removal still recorded by id, application acknowledged', () => {
    const unexpanded = (type: string) =>
      stripeEvent(type, {
        object: 'discount',
        id: 'di_1',
        customer: 'cus_9',
        subscription: null,
        source: { coupon: 'co_1', type: 'coupon' },
      });
    expect(commandOf(unexpanded('customer.discount.deleted'))).toMatchObject({
      type: 'RemoveCustomerDiscount',
      customerId: 'cus_9',
      discountId: 'di_1',
    });
    expect(translate(unexpanded('customer.discount.created'))).toEqual({
      kind: 'commands',
      commands: [],
      note: 'discount di_1 carries no coupon terms (source.coupon not expanded): nothing to record',
    });
  });

  it('discounts: the coupon under `source` (basil) is read like `coupon` (legacy)', () => {
    const legacy = commandOf(
      discountCreatedEvent(
        { subscription: 'sub_T1', coupon: { percentOff: 12.5 } },
        { id: 'evt_d', apiShape: 'legacy' },
      ),
    );
    const basil = commandOf(
      discountCreatedEvent(
        { subscription: 'sub_T1', coupon: { percentOff: 12.5 } },
        { id: 'evt_d', apiShape: 'basil' },
      ),
    );
    expect(basil).toEqual(legacy);
    expect(legacy).toMatchObject({ type: 'ApplySubscriptionDiscount', discount: { percentOffBps: 1250 } });
  });

  it('a payment method without a customer anywhere is acknowledged with nothing to record, not invalid', () => {
    expect(
      translate(stripeEvent('payment_method.detached', paymentMethodObject({ customer: null }))),
    ).toEqual({
      kind: 'commands',
      commands: [],
      note: 'payment method pm_T1 names no customer (nor in previous_attributes.customer): nothing to record',
    });
    expect(commandOf(paymentMethodDetachedEvent({ id: 'pm_7', customer: 'cus_9' }))).toMatchObject({
      type: 'DetachPaymentMethod',
      customerId: 'cus_9',
      paymentMethodId: 'pm_7',
    });
  });
});
