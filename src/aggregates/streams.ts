/** Stream names: one stream per aggregate instance, named by its Stripe id. */
export const customerStream = (customerId: string): string => `customer-${customerId}`;
export const subscriptionStream = (subscriptionId: string): string => `subscription-${subscriptionId}`;
