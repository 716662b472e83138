import { z } from 'zod';
import { customerId, isoInstant } from '../shared/values';

export const address = z.object({
  line1: z.string().nullable(),
  line2: z.string().nullable(),
  city: z.string().nullable(),
  state: z.string().nullable(),
  postalCode: z.string().nullable(),
  country: z.string().nullable(),
});
export type Address = z.infer<typeof address>;

/** What a person can change about themselves; `userId` is the product's own user id (metadata). */
export const customerProfile = z.object({
  email: z.string().nullable(),
  name: z.string().nullable(),
  phone: z.string().nullable(),
  address: address.nullable(),
  userId: z.string().nullable(),
});
export type CustomerProfile = z.infer<typeof customerProfile>;

/** The customer as Stripe describes it at one instant. */
export const customerSnapshot = customerProfile.extend({
  customerId,
  createdAt: isoInstant,
  defaultPaymentMethodId: z.string().nullable(),
  deleted: z.boolean(),
});
export type CustomerSnapshot = z.infer<typeof customerSnapshot>;

export const paymentMethodSummary = z.object({
  id: z.string(),
  type: z.string(),
  brand: z.string().nullable(),
  last4: z.string().nullable(),
  expMonth: z.number().int().nullable(),
  expYear: z.number().int().nullable(),
});
export type PaymentMethodSummary = z.infer<typeof paymentMethodSummary>;
