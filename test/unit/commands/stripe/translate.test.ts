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

  describe('customer.created is validated as seed 002 says', () => {
    it.each([
      ['no email', { email: null }, 'Invalid customer data: Missing required fields: email'],
      [
        'a malformed email',
        { email: 'not-an-email' },
        'Invalid customer data: Invalid email format (not-an-email)',
      ],
      [
        'an id that is not a customer id',
        { id: 'acct_123' },
        'Invalid customer data: Stripe customer id must start with cus_ (got acct_123)',
      ],
    ])('%s is invalid, with the reason', (_what, spec, reason) => {
      expect(translate(customerCreatedEvent(spec))).toEqual({ kind: 'invalid', reason });
    });

    it('no id at all is invalid', () => {
      const event = customerCreatedEvent();
      delete (event.data.object as { id?: string }).id;
      expect(translate(event)).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('id') });
    });

    it('customer.updated without an email is invalid too; customer.deleted needs only the id', () => {
      expect(translate(customerUpdatedEvent({ email: null })).kind).toBe('invalid');
      expect(translate(customerDeletedEvent({ email: null })).kind).toBe('commands');
    });

    it('invalid appends nothing', async () => {
      const store = new MemoryEventStore();
      const result = await processStripeEvent(store, customerCreatedEvent({ email: 'nope' }));
      expect(result).toMatchObject({
        outcome: 'invalid',
        reason: expect.stringContaining('Invalid email format'),
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

  it('a detached payment method without a customer anywhere is invalid', () => {
    expect(
      translate(stripeEvent('payment_method.detached', paymentMethodObject({ customer: null }))).kind,
    ).toBe('invalid');
    expect(commandOf(paymentMethodDetachedEvent({ id: 'pm_7', customer: 'cus_9' }))).toMatchObject({
      type: 'DetachPaymentMethod',
      customerId: 'cus_9',
      paymentMethodId: 'pm_7',
    });
  });
});
