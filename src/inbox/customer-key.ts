/** The key of inbox entries that name no customer: they are taken in order among themselves. */
export const NO_CUSTOMER_KEY = '(none)';

const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;

const idOf = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : (asRecord(value)?.id as string | undefined);

/**
 * Which customer a Stripe event is about, so the inbox keeps each customer's events in order
 * while taking different customers in parallel: the customer itself for customer.* objects,
 * else the object's `customer` (subscriptions, invoices, discounts, payment methods), else the
 * customer a detached payment method had. The same rule backfills older rows (migration 0005).
 */
export function customerKeyOf(eventType: string, payload: Record<string, unknown>): string {
  const data = asRecord(payload.data);
  const object = asRecord(data?.object);
  const isCustomer =
    object?.object === 'customer' ||
    ['customer.created', 'customer.updated', 'customer.deleted'].includes(eventType);
  const key =
    (isCustomer ? idOf(object?.id) : undefined) ??
    idOf(object?.customer) ??
    idOf(asRecord(data?.previous_attributes)?.customer);
  return typeof key === 'string' && key.length > 0 ? key : NO_CUSTOMER_KEY;
}
