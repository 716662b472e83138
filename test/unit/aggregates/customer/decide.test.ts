import { commandFrom } from '../../../support/stripe-commands';
import {
  DAY,
  T0,
  customerCreatedEvent,
  customerDeletedEvent,
  customerUpdatedEvent,
  discountCreatedEvent,
  discountDeletedEvent,
  iso,
  paymentMethodAttachedEvent,
  paymentMethodDetachedEvent,
  type CustomerSpec,
} from '../../../support/stripe-fixtures';
import { deciderSpec, recorded } from '../../../support/decider-spec';
import type { CustomerCommand } from '../../../../src/aggregates/customer/commands';
import { customerDecider } from '../../../../src/aggregates/customer/decide';
import type { CustomerEvent } from '../../../../src/aggregates/customer/events';

const spec = deciderSpec(customerDecider);
const cmd = (event: unknown) => commandFrom<CustomerCommand>(event);

/** The events the decider records for these Stripe events, delivered in this order. */
const history = (...stripeEvents: unknown[]): CustomerEvent[] =>
  recorded(customerDecider, stripeEvents.map(cmd));

const at = (days: number, id = `evt_c${days}`) => ({ id, created: T0 + days * DAY });
const created = (s: CustomerSpec = {}) => customerCreatedEvent(s, { id: 'evt_created', created: T0 });
const updated = (s: CustomerSpec, days: number) => customerUpdatedEvent(s, at(days));
const JANE = { line1: '1 Main St', city: 'Springfield', postal_code: '12345', country: 'US' };

describe('Customer: registered (customer.created)', () => {
  it('registers the customer with the product user id from metadata', () => {
    spec
      .given([])
      .when(cmd(created({ address: JANE, phone: '+15550100' })))
      .then([
        {
          type: 'CustomerRegistered',
          data: {
            customerId: 'cus_T1',
            occurredAt: iso(T0),
            stripeEventId: 'evt_created',
            email: 'jane@example.com',
            name: 'Jane Doe',
            phone: '+15550100',
            address: {
              line1: '1 Main St',
              line2: null,
              city: 'Springfield',
              state: null,
              postalCode: '12345',
              country: 'US',
            },
            userId: 'u_42',
            createdAt: iso(T0),
            defaultPaymentMethodId: null,
          },
        },
      ]);
  });

  it.each([
    ['user_id', { user_id: 'u_1' }, 'u_1'],
    ['userId', { userId: 'u_2' }, 'u_2'],
    ['mingus_user_id', { mingus_user_id: 'u_3' }, 'u_3'],
    ['none', {}, null],
  ])('user id from metadata.%s', (_key, metadata, userId) => {
    spec
      .given([])
      .when(cmd(created({ metadata })))
      .thenMatch([{ type: 'CustomerRegistered', data: { userId } }]);
  });

  it('twice: the same customer.created writes nothing', () => {
    spec.given(history(created())).when(cmd(created())).then([]);
  });

  it('an update that arrives first registers the customer; the late created is then ignored explicitly', () => {
    const given = history(updated({ name: 'Jane Q. Doe' }, 1));
    expect(given).toEqual([
      expect.objectContaining({
        type: 'CustomerRegistered',
        data: expect.objectContaining({ name: 'Jane Q. Doe' }),
      }),
    ]);
    spec
      .given(given)
      .when(cmd(created()))
      .thenMatch([
        { type: 'CustomerStaleEventIgnored', data: { reason: 'stale_snapshot', knownAt: iso(T0 + DAY) } },
      ]);
  });
});

describe('Customer: profile and default payment method (customer.updated)', () => {
  const registered = history(created());

  it('profile changed: email, name, address, phone, with the previous values', () => {
    spec
      .given(registered)
      .when(
        cmd(updated({ email: 'jane@new.example', name: 'Jane Roe', address: JANE, phone: '+15550199' }, 2)),
      )
      .thenMatch([
        {
          type: 'CustomerProfileChanged',
          data: {
            email: 'jane@new.example',
            name: 'Jane Roe',
            phone: '+15550199',
            userId: 'u_42',
            changed: ['email', 'name', 'phone', 'address'],
            previous: {
              email: 'jane@example.com',
              name: 'Jane Doe',
              phone: null,
              address: null,
              userId: 'u_42',
            },
          },
        },
      ]);
  });

  it('a new user id in metadata is a profile change too', () => {
    spec
      .given(registered)
      .when(cmd(updated({ metadata: { user_id: 'u_99' } }, 2)))
      .thenMatch([{ type: 'CustomerProfileChanged', data: { userId: 'u_99', changed: ['userId'] } }]);
  });

  it('default payment method changed', () => {
    spec
      .given(registered)
      .when(cmd(updated({ defaultPaymentMethod: 'pm_9' }, 2)))
      .thenMatch([
        {
          type: 'CustomerDefaultPaymentMethodChanged',
          data: { previousPaymentMethodId: null, paymentMethodId: 'pm_9' },
        },
      ]);
  });

  it('an update older than what we hold is ignored explicitly; twice writes nothing', () => {
    const given = history(created(), updated({ name: 'B' }, 3));
    spec
      .given(given)
      .when(cmd(updated({ name: 'A' }, 2)))
      .thenMatch([
        {
          type: 'CustomerStaleEventIgnored',
          data: { reason: 'stale_snapshot', stripeEventType: 'customer.updated' },
        },
      ]);
    spec
      .given(history(created(), updated({ name: 'B' }, 3), updated({ name: 'A' }, 2)))
      .when(cmd(updated({ name: 'A' }, 2)))
      .then([]);
  });

  it('a newer update with no change moves the clock (CustomerSynced)', () => {
    spec
      .given(registered)
      .when(cmd(updated({}, 2)))
      .thenMatch([{ type: 'CustomerSynced', data: { occurredAt: iso(T0 + 2 * DAY) } }]);
  });

  it('twice: the same update writes nothing', () => {
    spec
      .given(history(created(), updated({ name: 'Jane Roe' }, 2)))
      .when(cmd(updated({ name: 'Jane Roe' }, 2)))
      .then([]);
  });
});

describe('Customer: payment methods (payment_method.attached / detached)', () => {
  const registered = history(created());
  const attached = paymentMethodAttachedEvent({ id: 'pm_1', brand: 'mastercard', last4: '4444' }, at(1));
  const detached = paymentMethodDetachedEvent({ id: 'pm_1' }, at(2));

  it('attached', () => {
    spec
      .given(registered)
      .when(cmd(attached))
      .thenMatch([
        {
          type: 'CustomerPaymentMethodAttached',
          data: {
            paymentMethod: {
              id: 'pm_1',
              type: 'card',
              brand: 'mastercard',
              last4: '4444',
              expMonth: 12,
              expYear: 2030,
            },
          },
        },
      ]);
  });

  it('detached (the customer comes from previous_attributes)', () => {
    spec
      .given(history(created(), attached))
      .when(cmd(detached))
      .thenMatch([
        { type: 'CustomerPaymentMethodDetached', data: { customerId: 'cus_T1', paymentMethodId: 'pm_1' } },
      ]);
  });

  it('an attach older than the detach, arriving after it, is ignored explicitly', () => {
    spec
      .given(history(created(), detached))
      .when(cmd(attached))
      .thenMatch([{ type: 'CustomerStaleEventIgnored', data: { reason: 'stale_payment_method_event' } }]);
  });

  it('before the customer is known: kept', () => {
    spec
      .given([])
      .when(cmd(attached))
      .thenState((state) =>
        expect(state).toMatchObject({
          registered: false,
          customerId: 'cus_T1',
          paymentMethods: { pm_1: { present: true } },
        }),
      );
  });

  it('twice: the same attach or detach writes nothing', () => {
    spec.given(history(created(), attached)).when(cmd(attached)).then([]);
    spec
      .given(history(created(), attached, detached))
      .when(cmd(detached))
      .then([]);
  });
});

describe('Customer: customer-wide discounts (customer.discount.* without a subscription)', () => {
  const discount = { id: 'di_c1', coupon: { id: 'WELCOME', amountOff: 500 } };

  it('applied and removed', () => {
    spec
      .given(history(created()))
      .when(cmd(discountCreatedEvent(discount, at(1))))
      .thenMatch([
        {
          type: 'CustomerDiscountApplied',
          data: { discount: expect.objectContaining({ id: 'di_c1', amountOff: 500 }) },
        },
      ]);
    spec
      .given(history(created(), discountCreatedEvent(discount, at(1))))
      .when(cmd(discountDeletedEvent(discount, at(2))))
      .thenMatch([{ type: 'CustomerDiscountRemoved', data: { discountId: 'di_c1' } }]);
  });

  it('twice: writes nothing', () => {
    spec
      .given(history(created(), discountCreatedEvent(discount, at(1))))
      .when(cmd(discountCreatedEvent(discount, at(1))))
      .then([]);
    spec
      .given(history(created(), discountCreatedEvent(discount, at(1)), discountDeletedEvent(discount, at(2))))
      .when(cmd(discountDeletedEvent(discount, at(2))))
      .then([]);
  });

  it('a removal older than the latest apply, arriving after it, is ignored explicitly', () => {
    spec
      .given(history(created(), discountCreatedEvent(discount, at(3))))
      .when(cmd(discountDeletedEvent(discount, at(2))))
      .thenMatch([{ type: 'CustomerStaleEventIgnored', data: { reason: 'stale_discount_event' } }]);
  });
});

describe('Customer: deleted (customer.deleted)', () => {
  it('deleted', () => {
    spec
      .given(history(created()))
      .when(cmd(customerDeletedEvent({}, at(5))))
      .thenMatch([{ type: 'CustomerDeleted', data: { occurredAt: iso(T0 + 5 * DAY) } }]);
  });

  it('first seen deleted: registered from the deleted snapshot, then deleted', () => {
    spec
      .given([])
      .when(cmd(customerDeletedEvent({}, at(5))))
      .thenMatch([{ type: 'CustomerRegistered' }, { type: 'CustomerDeleted' }]);
  });

  it('terminal: a later update is ignored explicitly', () => {
    spec
      .given(history(created(), customerDeletedEvent({}, at(5))))
      .when(cmd(updated({ name: 'Ghost' }, 6)))
      .thenMatch([{ type: 'CustomerStaleEventIgnored', data: { reason: 'customer_deleted' } }]);
  });

  it('twice: writes nothing', () => {
    spec
      .given(history(created(), customerDeletedEvent({}, at(5))))
      .when(cmd(customerDeletedEvent({}, at(5))))
      .then([]);
  });
});

describe('Customer: what a snapshot lacks is a warning recorded with the fact', () => {
  const NO_EMAIL = 'no email: email notifications impossible';
  const NO_USER =
    "no user id in metadata (user_id, userId, mingus_user_id): not reachable by the product's user id";

  it('a customer without an email or a user id is registered, the warnings on the event', () => {
    spec
      .given([])
      .when(cmd(created({ email: null, metadata: {} })))
      .thenMatch([
        {
          type: 'CustomerRegistered',
          data: { customerId: 'cus_T1', email: null, userId: null, warnings: [NO_EMAIL, NO_USER] },
        },
      ]);
  });

  it('the warnings go with the first event of the decision only; the state holds no warnings', () => {
    spec
      .given(history(created()))
      .when(cmd(updated({ email: null, name: 'J. Doe' }, 1)))
      .thenState((state, decided) => {
        expect(decided.map((e) => e.type)).toEqual(['CustomerProfileChanged']);
        expect(decided[0]?.data.warnings).toEqual([NO_EMAIL]);
        expect(state).toMatchObject({ registered: true, email: null, name: 'J. Doe' });
        expect(state).not.toHaveProperty('warnings');
      });
  });

  it('an older snapshot without an email is still ignored explicitly, with its warning', () => {
    spec
      .given(history(created(), updated({ name: 'Jane' }, 2)))
      .when(cmd(updated({ email: null }, 1)))
      .thenMatch([
        { type: 'CustomerStaleEventIgnored', data: { reason: 'stale_snapshot', warnings: [NO_EMAIL] } },
      ]);
  });

  it('twice: the same snapshot without an email writes nothing', () => {
    const noEmail = created({ email: null });
    spec.given(history(noEmail)).when(cmd(noEmail)).then([]);
  });
});
