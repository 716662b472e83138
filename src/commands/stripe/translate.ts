import type { z } from 'zod';
import { customerCommand, type CustomerCommand } from '../../aggregates/customer/commands';
import { subscriptionCommand, type SubscriptionCommand } from '../../aggregates/subscription/commands';
import { fromUnixSeconds } from '../../aggregates/shared/values';
import { couponOf, iso, normaliseDiscount, normaliseSubscription } from './normalise';
import {
  describeIssues,
  stripeCustomer,
  stripeDiscount,
  stripeInvoice,
  stripePaymentMethod,
  stripeSubscription,
  type StripeCustomer,
  type StripeEventEnvelope,
  type StripeInvoice,
} from './schemas';

export type RoutedCommand =
  | { aggregate: 'customer'; command: CustomerCommand }
  | { aggregate: 'subscription'; command: SubscriptionCommand };

export type Translation =
  | { kind: 'commands'; commands: RoutedCommand[]; note?: string }
  | { kind: 'unhandled'; reason: string }
  | { kind: 'invalid'; reason: string };

type Source = { at: string; stripeEventId: string; stripeEventType: string };
type Translator = (
  object: Record<string, unknown>,
  source: Source,
  event: StripeEventEnvelope,
) => Translation;

const invalid = (reason: string): Translation => ({ kind: 'invalid', reason });
/**
 * A Stripe object of its type, but about nothing we keep a stream for (no customer, a
 * reference that is no Stripe id): acknowledged with the reason, never `invalid`.
 */
const nothingToRecord = (why: string): Translation => ({
  kind: 'commands',
  commands: [],
  note: `${why}: nothing to record`,
});
const STRIPE_ID = { customer: /^cus_[A-Za-z0-9_]+$/, subscription: /^sub_[A-Za-z0-9_]+$/ };

/** Parse a Stripe object, then hand the parsed value on, or say what was wrong with it. */
function parsing<T extends z.ZodType>(
  schema: T,
  what: string,
  then: (value: z.infer<T>, source: Source, event: StripeEventEnvelope) => Translation,
): Translator {
  return (object, source, event) => {
    const parsed = schema.safeParse(object);
    return parsed.success ? then(parsed.data, source, event) : invalid(describeIssues(parsed.error, what));
  };
}

/** Commands are checked against their own schemas too: what the domain would refuse is rejected here, with the reason. */
function commands(routed: RoutedCommand[], note?: string): Translation {
  for (const r of routed) {
    const parsed =
      r.aggregate === 'customer'
        ? customerCommand.safeParse(r.command)
        : subscriptionCommand.safeParse(r.command);
    if (!parsed.success) return invalid(describeIssues(parsed.error, `${r.command.type} command`));
  }
  return { kind: 'commands', commands: routed, ...(note ? { note } : {}) };
}

/**
 * A Stripe event is a fact about Stripe, not a form: a customer without an email or a user id
 * is still a customer. What it lacks for our purposes becomes a warning recorded with the fact.
 * Only a payload that is not a Stripe customer (no cus_ id, wrong types) is refused.
 */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USER_ID_KEYS = ['user_id', 'userId', 'mingus_user_id'] as const;
export const CUSTOMER_WARNINGS = {
  noEmail: 'no email: email notifications impossible',
  badEmail: (email: string) => `email ${email} is not a valid address: email notifications impossible`,
  noUserId: `no user id in metadata (${USER_ID_KEYS.join(', ')}): not reachable by the product's user id`,
};

function customerWarnings(email: string | null, userId: string | null): string[] {
  return [
    ...(!email ? [CUSTOMER_WARNINGS.noEmail] : []),
    ...(email && !EMAIL.test(email) ? [CUSTOMER_WARNINGS.badEmail(email)] : []),
    ...(!userId ? [CUSTOMER_WARNINGS.noUserId] : []),
  ];
}

/** `live`: a customer that can still be reached (created, updated), so what it lacks is worth a warning. */
function customerSnapshotTranslator(live: boolean): Translator {
  return parsing(stripeCustomer, 'customer', (c: StripeCustomer, source) => {
    if (!c.id) return invalid('Invalid customer data: Missing required fields: id');
    if (!STRIPE_ID.customer.test(c.id))
      return invalid(`Invalid customer data: Stripe customer id must start with cus_ (got ${c.id})`);
    const userId =
      USER_ID_KEYS.map((k) => c.metadata[k]).find((v) => v !== undefined && v.trim() !== '') ?? null;
    const warnings = live ? customerWarnings(c.email ?? null, userId) : [];
    const a = c.address;
    const snapshot = {
      customerId: c.id,
      email: c.email ?? null,
      name: c.name ?? null,
      phone: c.phone ?? null,
      address: a
        ? {
            line1: a.line1 ?? null,
            line2: a.line2 ?? null,
            city: a.city ?? null,
            state: a.state ?? null,
            postalCode: a.postal_code ?? null,
            country: a.country ?? null,
          }
        : null,
      userId,
      createdAt: fromUnixSeconds(c.created),
      defaultPaymentMethodId: c.invoice_settings?.default_payment_method ?? null,
      deleted: source.stripeEventType === 'customer.deleted' || c.deleted === true,
    };
    const command: CustomerCommand = {
      type: 'SyncCustomer',
      snapshot,
      ...source,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    return commands([{ aggregate: 'customer', command }]);
  });
}

const subscriptionSnapshotTranslator = (type: 'SyncSubscription' | 'NoteTrialWillEnd'): Translator =>
  parsing(stripeSubscription, 'subscription', (sub, source) =>
    commands([
      { aggregate: 'subscription', command: { type, snapshot: normaliseSubscription(sub), ...source } },
    ]),
  );

function subscriptionOf(invoice: StripeInvoice): string | null {
  return invoice.subscription ?? invoice.parent?.subscription_details?.subscription ?? null;
}

function declineOf(invoice: StripeInvoice): { declineCode: string | null; failureMessage: string | null } {
  const pe =
    typeof invoice.payment_intent === 'object' && invoice.payment_intent !== null
      ? invoice.payment_intent.last_payment_error
      : null;
  const fe = invoice.last_finalization_error;
  return {
    declineCode: pe?.decline_code ?? pe?.code ?? fe?.decline_code ?? fe?.code ?? null,
    failureMessage: pe?.message ?? fe?.message ?? null,
  };
}

function invoiceTranslator(kind: 'paid' | 'failed' | 'action_required'): Translator {
  return parsing(stripeInvoice, 'invoice', (invoice, source) => {
    const subscriptionId = subscriptionOf(invoice);
    if (!subscriptionId) return nothingToRecord(`invoice ${invoice.id} belongs to no subscription`);
    if (!STRIPE_ID.subscription.test(subscriptionId))
      return nothingToRecord(
        `invoice ${invoice.id} names subscription ${subscriptionId}, not a Stripe subscription id (sub_...)`,
      );
    const common = {
      subscriptionId,
      customerId: invoice.customer,
      ...source,
      invoiceId: invoice.id,
      attemptCount: invoice.attempt_count,
      amountDue: invoice.amount_due,
      currency: invoice.currency.toLowerCase(),
    };
    const command: SubscriptionCommand =
      kind === 'paid'
        ? {
            type: 'RecordInvoicePaid',
            ...common,
            amountPaid: invoice.amount_paid,
            billingReason: invoice.billing_reason ?? null,
            periodStart: iso(invoice.period_start),
            periodEnd: iso(invoice.period_end),
          }
        : kind === 'failed'
          ? {
              type: 'RecordPaymentFailed',
              ...common,
              nextPaymentAttempt: iso(invoice.next_payment_attempt),
              ...declineOf(invoice),
            }
          : {
              type: 'RecordPaymentActionRequired',
              ...common,
              hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
            };
    return commands([{ aggregate: 'subscription', command }]);
  });
}

function discountTranslator(applied: boolean): Translator {
  return parsing(stripeDiscount, 'discount', (raw, source) => {
    const coupon = couponOf(raw);
    const discountId =
      raw.id ?? coupon?.id ?? (typeof raw.source?.coupon === 'string' ? raw.source.coupon : null);
    const what = `discount ${discountId ?? '(no id)'}`;
    if (!raw.customer) return nothingToRecord(`${what} names no customer`);
    if (!STRIPE_ID.customer.test(raw.customer))
      return nothingToRecord(`${what} names customer ${raw.customer}, not a Stripe customer id (cus_...)`);
    if (raw.subscription && !STRIPE_ID.subscription.test(raw.subscription))
      return nothingToRecord(
        `${what} names subscription ${raw.subscription}, not a Stripe subscription id (sub_...)`,
      );
    const discount = normaliseDiscount(raw);
    if (applied && !discount)
      return nothingToRecord(`${what} carries no coupon terms (source.coupon not expanded)`);
    if (!discountId) return nothingToRecord(`${what}: neither it nor its coupon has an id`);
    if (raw.subscription) {
      const target = { subscriptionId: raw.subscription, customerId: raw.customer, ...source };
      const command: SubscriptionCommand =
        applied && discount
          ? { type: 'ApplySubscriptionDiscount', ...target, discount }
          : { type: 'RemoveSubscriptionDiscount', ...target, discountId };
      return commands([{ aggregate: 'subscription', command }]);
    }
    const target = { customerId: raw.customer, ...source };
    const command: CustomerCommand =
      applied && discount
        ? { type: 'ApplyCustomerDiscount', ...target, discount }
        : { type: 'RemoveCustomerDiscount', ...target, discountId };
    return commands([{ aggregate: 'customer', command }]);
  });
}

function paymentMethodTranslator(attached: boolean): Translator {
  return parsing(stripePaymentMethod, 'payment method', (pm, source, event) => {
    const previous = event.data.previous_attributes?.customer;
    const customerId = pm.customer ?? (typeof previous === 'string' ? previous : null);
    if (!customerId)
      return nothingToRecord(
        `payment method ${pm.id} names no customer${attached ? '' : ' (nor in previous_attributes.customer)'}`,
      );
    if (!STRIPE_ID.customer.test(customerId))
      return nothingToRecord(
        `payment method ${pm.id} names customer ${customerId}, not a Stripe customer id (cus_...)`,
      );
    const command: CustomerCommand = attached
      ? {
          type: 'AttachPaymentMethod',
          customerId,
          ...source,
          paymentMethod: {
            id: pm.id,
            type: pm.type,
            brand: pm.card?.brand ?? null,
            last4: pm.card?.last4 ?? null,
            expMonth: pm.card?.exp_month ?? null,
            expYear: pm.card?.exp_year ?? null,
          },
        }
      : { type: 'DetachPaymentMethod', customerId, ...source, paymentMethodId: pm.id };
    return commands([{ aggregate: 'customer', command }]);
  });
}

/** One pure translation per Stripe event type we act on. */
export const stripeTranslators: Record<string, Translator> = {
  'customer.created': customerSnapshotTranslator(true),
  'customer.updated': customerSnapshotTranslator(true),
  'customer.deleted': customerSnapshotTranslator(false),
  'customer.subscription.created': subscriptionSnapshotTranslator('SyncSubscription'),
  'customer.subscription.updated': subscriptionSnapshotTranslator('SyncSubscription'),
  'customer.subscription.deleted': subscriptionSnapshotTranslator('SyncSubscription'),
  'customer.subscription.paused': subscriptionSnapshotTranslator('SyncSubscription'),
  'customer.subscription.resumed': subscriptionSnapshotTranslator('SyncSubscription'),
  'customer.subscription.trial_will_end': subscriptionSnapshotTranslator('NoteTrialWillEnd'),
  'invoice.paid': invoiceTranslator('paid'),
  'invoice.payment_succeeded': invoiceTranslator('paid'),
  'invoice.payment_failed': invoiceTranslator('failed'),
  'invoice.payment_action_required': invoiceTranslator('action_required'),
  'payment_method.attached': paymentMethodTranslator(true),
  'payment_method.detached': paymentMethodTranslator(false),
  'customer.discount.created': discountTranslator(true),
  'customer.discount.deleted': discountTranslator(false),
};

export const HANDLED_STRIPE_EVENT_TYPES = Object.keys(stripeTranslators);

/** Stripe event -> commands. Unknown types are not an error: they are answered `unhandled`. */
export function translateStripeEvent(event: StripeEventEnvelope): Translation {
  const translate = stripeTranslators[event.type];
  if (!translate) return { kind: 'unhandled', reason: `no handler for Stripe event type ${event.type}` };
  return translate(
    event.data.object,
    { at: fromUnixSeconds(event.created), stripeEventId: event.id, stripeEventType: event.type },
    event,
  );
}
