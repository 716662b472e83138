import { z } from 'zod';
import type { EventUnionOf } from '../shared/event-union';
import { customerId, isoInstant } from '../shared/values';
import { discount } from '../subscription/model';
import { customerProfile, paymentMethodSummary } from './model';

/**
 * Customer events (schema version 1). Every event names the customer (the Kafka key), when
 * it happened (`occurredAt`: the Stripe event's `created`) and the Stripe event that caused
 * it (`stripeEventId`, null when nothing from Stripe did). `warnings` (optional, so events
 * stored before it still parse): what the Stripe payload lacked for our purposes (no email, no
 * user id), carried by the first event its command decided.
 */
const base = z.object({
  customerId,
  occurredAt: isoInstant,
  stripeEventId: z.string().nullable(),
  warnings: z.array(z.string()).optional(),
});

export const customerEventSchemas = {
  /** The first valid snapshot of the customer we saw (customer.created, or a later one that came first). */
  CustomerRegistered: base.extend(customerProfile.shape).extend({
    createdAt: isoInstant,
    defaultPaymentMethodId: z.string().nullable(),
  }),
  /** The profile after the change at the top level (email, name, phone, address, userId), the one before in `previous`. */
  CustomerProfileChanged: base.extend(customerProfile.shape).extend({
    previous: customerProfile,
    changed: z.array(z.enum(['email', 'name', 'phone', 'address', 'userId'])),
  }),
  CustomerDefaultPaymentMethodChanged: base.extend({
    previousPaymentMethodId: z.string().nullable(),
    paymentMethodId: z.string().nullable(),
  }),
  CustomerPaymentMethodAttached: base.extend({ paymentMethod: paymentMethodSummary }),
  CustomerPaymentMethodDetached: base.extend({ paymentMethodId: z.string() }),
  /** A customer-wide coupon (customer.discount.* without a subscription). */
  CustomerDiscountApplied: base.extend({ discount }),
  CustomerDiscountRemoved: base.extend({ discountId: z.string() }),
  CustomerDeleted: base,
  /** A newer snapshot whose changes have no event of their own (or none at all): moves the snapshot clock. */
  CustomerSynced: base.extend(customerProfile.shape).extend({
    createdAt: isoInstant,
    defaultPaymentMethodId: z.string().nullable(),
    deleted: z.boolean(),
  }),
  /** A Stripe event that says nothing new: older than what we know, or about a deleted customer. */
  CustomerStaleEventIgnored: base.extend({
    stripeEventType: z.string(),
    reason: z.enum([
      'stale_snapshot',
      'customer_deleted',
      'stale_payment_method_event',
      'stale_discount_event',
    ]),
    eventAt: isoInstant,
    knownAt: isoInstant.nullable(),
  }),
};

export type CustomerEventType = keyof typeof customerEventSchemas;
export type CustomerEvent = EventUnionOf<typeof customerEventSchemas>;
export type CustomerEventOf<K extends CustomerEventType> = Extract<CustomerEvent, { type: K }>;
