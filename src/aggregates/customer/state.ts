import { assertNever } from '../../shared/decider';
import { compareClocks, rememberId, type SnapshotClock } from '../shared/clock';
import type { Mark } from '../shared/marks';
import type { Discount } from '../subscription/model';
import type { CustomerEvent } from './events';
import type { CustomerSnapshot, PaymentMethodSummary } from './model';

interface Bookkeeping {
  /** Per payment method, the latest attach or detach. */
  paymentMethods: Record<string, Mark<PaymentMethodSummary>>;
  /** Per customer-wide discount, the latest apply or remove. */
  discounts: Record<string, Mark<Discount>>;
  /** The last Stripe events that wrote here: a redelivery writes nothing (the handler also checks the whole stream). */
  recentStripeEventIds: string[];
}

export interface UnregisteredCustomer extends Bookkeeping {
  registered: false;
  customerId: string | null;
}

export interface RegisteredCustomer extends Bookkeeping, CustomerSnapshot {
  registered: true;
  lastSnapshot: SnapshotClock;
}

export type CustomerState = UnregisteredCustomer | RegisteredCustomer;

export const initialCustomerState: CustomerState = {
  registered: false,
  customerId: null,
  paymentMethods: {},
  discounts: {},
  recentStripeEventIds: [],
};

function clockOf(event: CustomerEvent, deleted: boolean): SnapshotClock {
  return { terminal: deleted, at: event.data.occurredAt, stripeEventId: event.data.stripeEventId ?? '' };
}

function mark<T>(event: CustomerEvent, present: boolean, value: T | null): Mark<T> {
  return { present, at: event.data.occurredAt, stripeEventId: event.data.stripeEventId ?? '', value };
}

function evolveRegistered(s: RegisteredCustomer, event: CustomerEvent): RegisteredCustomer {
  switch (event.type) {
    case 'CustomerRegistered':
    case 'CustomerSynced': {
      const { occurredAt: _at, stripeEventId: _id, warnings: _w, ...fields } = event.data;
      return { ...s, ...fields };
    }
    case 'CustomerProfileChanged': {
      const { email, name, phone, address, userId } = event.data;
      return { ...s, email, name, phone, address, userId };
    }
    case 'CustomerDefaultPaymentMethodChanged':
      return { ...s, defaultPaymentMethodId: event.data.paymentMethodId };
    case 'CustomerDeleted':
      return { ...s, deleted: true };
    case 'CustomerPaymentMethodAttached':
    case 'CustomerPaymentMethodDetached':
    case 'CustomerDiscountApplied':
    case 'CustomerDiscountRemoved':
    case 'CustomerStaleEventIgnored':
      return s;
    default:
      return assertNever(event);
  }
}

const SNAPSHOT_TYPES: ReadonlySet<CustomerEvent['type']> = new Set([
  'CustomerRegistered',
  'CustomerSynced',
  'CustomerProfileChanged',
  'CustomerDefaultPaymentMethodChanged',
  'CustomerDeleted',
]);

function evolveBookkeeping(state: CustomerState, event: CustomerEvent): CustomerState {
  const s = event.data.stripeEventId
    ? { ...state, recentStripeEventIds: rememberId(state.recentStripeEventIds, event.data.stripeEventId) }
    : state;
  switch (event.type) {
    case 'CustomerPaymentMethodAttached':
      return {
        ...s,
        paymentMethods: {
          ...s.paymentMethods,
          [event.data.paymentMethod.id]: mark(event, true, event.data.paymentMethod),
        },
      };
    case 'CustomerPaymentMethodDetached':
      return {
        ...s,
        paymentMethods: {
          ...s.paymentMethods,
          [event.data.paymentMethodId]: mark<never>(event, false, null),
        },
      };
    case 'CustomerDiscountApplied':
      return {
        ...s,
        discounts: { ...s.discounts, [event.data.discount.id]: mark(event, true, event.data.discount) },
      };
    case 'CustomerDiscountRemoved':
      return {
        ...s,
        discounts: { ...s.discounts, [event.data.discountId]: mark<never>(event, false, null) },
      };
    default:
      return s;
  }
}

/** Pure and total. */
export function evolveCustomer(state: CustomerState, event: CustomerEvent): CustomerState {
  const booked = evolveBookkeeping(state, event);
  if (!booked.registered) {
    if (event.type !== 'CustomerRegistered' && event.type !== 'CustomerSynced')
      return { ...booked, customerId: event.data.customerId };
    const { occurredAt: _at, stripeEventId: _id, warnings: _w, ...fields } = event.data;
    return {
      ...booked,
      deleted: false,
      ...fields,
      registered: true,
      lastSnapshot: clockOf(event, 'deleted' in fields && fields.deleted === true),
    };
  }
  const next = evolveRegistered(booked, event);
  if (!SNAPSHOT_TYPES.has(event.type)) return next;
  const clock = clockOf(event, next.deleted);
  return compareClocks(clock, next.lastSnapshot) > 0 ? { ...next, lastSnapshot: clock } : next;
}
