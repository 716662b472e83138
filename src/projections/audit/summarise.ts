import type { z } from 'zod';
import {
  customerEventSchemas,
  type CustomerEventOf,
  type CustomerEventType,
} from '../../aggregates/customer/events';
import type { PaymentMethodSummary } from '../../aggregates/customer/model';
import type { Money } from '../../aggregates/shared/values';
import {
  subscriptionEventSchemas,
  type SubscriptionEventOf,
  type SubscriptionEventType,
} from '../../aggregates/subscription/events';
import type { Discount, SubscriptionItem } from '../../aggregates/subscription/model';
import type { BusEvent } from '../../bus/port';
import { formatItems, formatMoney, formatMoneyChange, formatPercentBps, formatValue } from './format';

/** One field that changed; `before` is null when the field had no value (or none is known). */
export interface AuditChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface AuditSummary {
  summary: string;
  changes: AuditChange[];
}

type Summarisers<T extends string, Of extends { type: T; data: unknown }> = {
  [K in T]: (data: Extract<Of, { type: K }>['data']) => AuditSummary;
};

const change = (field: string, before: unknown, after: unknown): AuditChange => ({ field, before, after });
const said = (summary: string, ...changes: AuditChange[]): AuditSummary => ({ summary, changes });
/** `; label value` when there is a value. */
const clause = (label: string, value: string | null | undefined): string =>
  value ? `; ${label}${value}` : '';
const mrrNow = (mrr: Money | null): string => clause('MRR now ', mrr ? formatMoney(mrr) : null);

/** What an item was billed as: enough to read a plan change without the price catalogue. */
const itemView = (item: SubscriptionItem) => ({
  priceId: item.priceId,
  quantity: item.quantity,
  unitAmount: item.unitAmount,
  currency: item.currency,
  interval: item.interval,
  intervalCount: item.intervalCount,
});

function describeDiscount(d: Discount): string {
  const off =
    d.percentOffBps !== null
      ? `${formatPercentBps(d.percentOffBps)} off`
      : d.amountOff !== null && d.currency
        ? `${formatMoney({ amount: d.amountOff, currency: d.currency })} off`
        : 'no amount';
  const lasting =
    d.duration === 'repeating' && d.durationInMonths !== null
      ? `for ${d.durationInMonths} months`
      : d.duration;
  return `coupon ${d.couponId} (${off}, ${lasting})`;
}

function describePaymentMethod(pm: PaymentMethodSummary): string {
  const card = pm.last4 ? `${pm.brand ?? pm.type} •••• ${pm.last4}` : (pm.brand ?? pm.type);
  const expiry =
    pm.expMonth !== null && pm.expYear !== null
      ? `, expires ${String(pm.expMonth).padStart(2, '0')}/${pm.expYear}`
      : '';
  return `${card}${expiry} (${pm.id})`;
}

function staleIgnored(data: {
  stripeEventType: string;
  reason: string;
  eventAt: string;
  knownAt: string | null;
}): AuditSummary {
  return said(
    `Ignored Stripe event ${data.stripeEventType} (${data.reason}): it happened at ${data.eventAt}${clause('already known up to ', data.knownAt)}`,
  );
}

type Transition = { from: string; status: string; mrr: Money };
const transition =
  (title: string) =>
  (data: Transition): AuditSummary =>
    said(
      `${title}: status ${data.from} → ${data.status}${mrrNow(data.mrr)}`,
      change('status', data.from, data.status),
    );

type Invoice = { invoiceId: string; amountDue: number; currency: string; attemptCount: number };
const invoiceDue = (data: Invoice): string =>
  `invoice ${data.invoiceId}, ${formatMoney({ amount: data.amountDue, currency: data.currency })} due, attempt ${data.attemptCount}`;

const subscriptionSummarisers: Summarisers<
  SubscriptionEventType,
  SubscriptionEventOf<SubscriptionEventType>
> = {
  SubscriptionStarted: (d) =>
    said(
      `Subscription started (${d.status}): ${formatItems(d.items)}; MRR ${formatMoney(d.mrr)}${clause('trial until ', d.trialEnd)}`,
      change('status', null, d.status),
      change('items', [], d.items.map(itemView)),
      change('mrr', null, d.mrr),
    ),
  SubscriptionTrialEndingSoon: (d) => said(`Trial ends soon, at ${d.trialEnd}`),
  SubscriptionTrialConverted: transition('Trial converted to paid'),
  SubscriptionTrialEndedWithoutPayment: transition('Trial ended without payment'),
  SubscriptionItemsChanged: (d) =>
    said(
      `Plan changed: ${formatItems(d.previousItems)} → ${formatItems(d.items)}; MRR ${formatMoneyChange(d.previousMrr, d.mrr)}`,
      change('items', d.previousItems.map(itemView), d.items.map(itemView)),
      change('mrr', d.previousMrr, d.mrr),
    ),
  SubscriptionDiscountApplied: (d) =>
    said(
      `Discount applied: ${describeDiscount(d.discount)}${mrrNow(d.mrr)}`,
      change('discount', null, d.discount),
    ),
  SubscriptionDiscountRemoved: (d) =>
    said(`Discount removed: ${d.discountId}${mrrNow(d.mrr)}`, change('discount', d.discountId, null)),
  SubscriptionCancellationScheduled: (d) =>
    said(
      `Cancellation scheduled: ends ${d.endsAt ?? 'at a date Stripe did not give'}${d.cancelAtPeriodEnd ? ' (at period end)' : ''}${clause('reason ', d.reason)}${clause('feedback ', d.feedback)}`,
      change('cancellationScheduled', false, true),
      change('endsAt', null, d.endsAt),
    ),
  SubscriptionCancellationWithdrawn: () =>
    said('Scheduled cancellation withdrawn', change('cancellationScheduled', true, false)),
  SubscriptionCancelled: (d) =>
    said(
      `Subscription cancelled: status ${d.from} → ${d.status}${clause('reason ', d.reason)}${clause('feedback ', d.feedback)}${mrrNow(d.mrr)}`,
      change('status', d.from, d.status),
      change('endedAt', null, d.endedAt),
    ),
  SubscriptionPaused: (d) =>
    said(
      `Subscription paused: status ${d.from} → ${d.status}${clause('collection ', d.pauseCollection?.behavior)}${clause('resumes at ', d.pauseCollection?.resumesAt)}${mrrNow(d.mrr)}`,
      change('status', d.from, d.status),
      change('pauseCollection', null, d.pauseCollection),
    ),
  SubscriptionResumed: transition('Subscription resumed'),
  SubscriptionRenewed: (d) =>
    said(
      `Subscription renewed: period ${d.currentPeriodStart ?? '?'} → ${d.currentPeriodEnd}`,
      change('currentPeriodEnd', d.previousPeriodEnd, d.currentPeriodEnd),
    ),
  SubscriptionBecamePastDue: transition('Subscription past due'),
  SubscriptionBecameUnpaid: transition('Subscription unpaid'),
  SubscriptionPaymentRecovered: transition('Payment recovered'),
  SubscriptionStatusChanged: transition('Status changed'),
  SubscriptionInvoicePaid: (d) =>
    said(
      `Invoice ${d.invoiceId} paid: ${formatMoney({ amount: d.amountPaid, currency: d.currency })}${clause('billing reason ', d.billingReason)}${d.periodEnd ? `; period ${d.periodStart ?? '?'} → ${d.periodEnd}` : ''}`,
    ),
  SubscriptionPaymentFailed: (d) =>
    said(
      `Payment failed: ${invoiceDue(d)}${clause('decline ', d.declineCode)}${clause('', d.failureMessage)}; ${d.nextPaymentAttempt ? `next attempt ${d.nextPaymentAttempt}` : 'no further attempt scheduled'}`,
    ),
  SubscriptionPaymentActionRequired: (d) =>
    said(
      `Payment needs the customer's action: ${invoiceDue(d)}${clause('invoice page ', d.hostedInvoiceUrl)}`,
    ),
  SubscriptionSynced: (d) =>
    said(
      `Subscription synced with Stripe: status ${d.status}; ${formatItems(d.items)}; MRR ${formatMoney(d.mrr)}`,
    ),
  SubscriptionStaleEventIgnored: staleIgnored,
};

const PROFILE_FIELDS = ['email', 'name', 'phone', 'address', 'userId'] as const;

const customerSummarisers: Summarisers<CustomerEventType, CustomerEventOf<CustomerEventType>> = {
  CustomerRegistered: (d) =>
    said(
      `Customer registered: ${d.email ?? 'no email'}${d.name ? ` (${d.name})` : ''}${clause('user ', d.userId)}`,
      ...PROFILE_FIELDS.filter((field) => d[field] !== null).map((field) => change(field, null, d[field])),
    ),
  CustomerProfileChanged: (d) => {
    const changes = d.changed.map((field) => change(field, d.previous[field], d[field]));
    const phrases = changes.map((c) => `${c.field} ${formatValue(c.before)} → ${formatValue(c.after)}`);
    return said(
      `Profile changed: ${phrases.length > 0 ? phrases.join('; ') : 'nothing visible'}`,
      ...changes,
    );
  },
  CustomerDefaultPaymentMethodChanged: (d) =>
    said(
      `Default payment method changed: ${formatValue(d.previousPaymentMethodId)} → ${formatValue(d.paymentMethodId)}`,
      change('defaultPaymentMethod', d.previousPaymentMethodId, d.paymentMethodId),
    ),
  CustomerPaymentMethodAttached: (d) =>
    said(
      `Payment method attached: ${describePaymentMethod(d.paymentMethod)}`,
      change('paymentMethod', null, d.paymentMethod.id),
    ),
  CustomerPaymentMethodDetached: (d) =>
    said(`Payment method detached: ${d.paymentMethodId}`, change('paymentMethod', d.paymentMethodId, null)),
  CustomerDiscountApplied: (d) =>
    said(`Customer discount applied: ${describeDiscount(d.discount)}`, change('discount', null, d.discount)),
  CustomerDiscountRemoved: (d) =>
    said(`Customer discount removed: ${d.discountId}`, change('discount', d.discountId, null)),
  CustomerDeleted: () =>
    said('Customer deleted in Stripe (the audit trail is kept)', change('deleted', false, true)),
  CustomerSynced: (d) =>
    said(`Customer synced with Stripe: ${d.email ?? 'no email'}${d.deleted ? ' (deleted)' : ''}`),
  CustomerStaleEventIgnored: staleIgnored,
};

function summariseWith<S extends Record<string, z.ZodType>>(
  schemas: S,
  summarisers: { [K in keyof S]: (data: never) => AuditSummary },
  event: BusEvent,
): AuditSummary | undefined {
  if (!Object.prototype.hasOwnProperty.call(schemas, event.type)) return undefined;
  const type = event.type as keyof S;
  const parsed = (schemas[type] as z.ZodType).safeParse(event.data);
  if (!parsed.success) {
    return said(
      `${event.type} (details unreadable: the data does not match schema version ${event.metadata.schemaVersion} of this event)`,
    );
  }
  return withWarnings(
    (summarisers[type] as (data: unknown) => AuditSummary)(parsed.data),
    (parsed.data as { warnings?: unknown }).warnings,
  );
}

/** What the Stripe payload lacked (no email, no user id...), recorded with the fact: said after the summary. */
function withWarnings(said: AuditSummary, warnings: unknown): AuditSummary {
  if (!Array.isArray(warnings) || warnings.length === 0) return said;
  const texts = warnings.filter((w): w is string => typeof w === 'string');
  return {
    summary: `${said.summary}; warning${texts.length > 1 ? 's' : ''}: ${texts.join('; ')}`,
    changes: said.changes,
  };
}

/**
 * What an event changed, in words for support and as fields for machines. Pure; never throws
 * on data: an unknown type, or data that does not match its schema, gets a generic summary.
 */
export function summarise(event: BusEvent): AuditSummary {
  return (
    summariseWith(subscriptionEventSchemas, subscriptionSummarisers, event) ??
    summariseWith(customerEventSchemas, customerSummarisers, event) ??
    said(`${event.type} (no summary for this event type)`)
  );
}
