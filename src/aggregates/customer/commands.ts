import { z } from 'zod';
import { customerId, isoInstant } from '../shared/values';
import { discount } from '../subscription/model';
import { customerSnapshot, paymentMethodSummary } from './model';

/** Commands on a customer: the Stripe snapshot or fact, when it happened (`at`), and the Stripe event id. */
const source = { at: isoInstant, stripeEventId: z.string(), stripeEventType: z.string() };

export const customerCommandSchemas = {
  /**
   * customer.created / updated / deleted: reconcile with the snapshot. `warnings`: what the
   * snapshot lacks for our purposes (no email, no user id); recorded with the fact, never a refusal.
   */
  SyncCustomer: z.object({
    type: z.literal('SyncCustomer'),
    snapshot: customerSnapshot,
    warnings: z.array(z.string()).optional(),
    ...source,
  }),
  AttachPaymentMethod: z.object({
    type: z.literal('AttachPaymentMethod'),
    customerId,
    paymentMethod: paymentMethodSummary,
    ...source,
  }),
  DetachPaymentMethod: z.object({
    type: z.literal('DetachPaymentMethod'),
    customerId,
    paymentMethodId: z.string(),
    ...source,
  }),
  ApplyCustomerDiscount: z.object({
    type: z.literal('ApplyCustomerDiscount'),
    customerId,
    discount,
    ...source,
  }),
  RemoveCustomerDiscount: z.object({
    type: z.literal('RemoveCustomerDiscount'),
    customerId,
    discountId: z.string(),
    ...source,
  }),
};

export const customerCommand = z.discriminatedUnion('type', [
  customerCommandSchemas.SyncCustomer,
  customerCommandSchemas.AttachPaymentMethod,
  customerCommandSchemas.DetachPaymentMethod,
  customerCommandSchemas.ApplyCustomerDiscount,
  customerCommandSchemas.RemoveCustomerDiscount,
]);
export type CustomerCommand = z.infer<typeof customerCommand>;
export type CustomerCommandOf<K extends CustomerCommand['type']> = Extract<CustomerCommand, { type: K }>;
