import { z } from 'zod';

/** ISO-8601 instant in UTC, as `Date.prototype.toISOString` writes it. */
export const isoInstant = z.iso.datetime({ offset: false });
export const currencyCode = z.string().regex(/^[a-z]{3}$/, 'lowercase ISO-4217 currency');
/** Integer minor units (cents) with a lowercase currency. Never floats for money. */
export const money = z.object({ amount: z.number().int(), currency: currencyCode });
export type Money = z.infer<typeof money>;

export const customerId = z.string().regex(/^cus_[A-Za-z0-9_]+$/, 'a Stripe customer id (cus_...)');
export const subscriptionId = z.string().regex(/^sub_[A-Za-z0-9_]+$/, 'a Stripe subscription id (sub_...)');

/** Stripe sends times as unix seconds. */
export const fromUnixSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString();

export const compareInstants = (a: string, b: string): number => Date.parse(a) - Date.parse(b);
