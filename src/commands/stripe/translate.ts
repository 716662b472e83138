import type { z } from 'zod';
import { customerCommand, type CustomerCommand } from '../../aggregates/customer/commands';
import { subscriptionCommand, type SubscriptionCommand } from '../../aggregates/subscription/commands';
import { fromUnixSeconds } from '../../aggregates/shared/values';
import { iso, normaliseDiscount, normaliseSubscription } from './normalise';
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

// Seed 002: a registered customer needs an id (cus_...) and an email in a valid format.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USER_ID_KEYS = ['user_id', 'userId', 'mingus_user_id'] as const;

function customerSnapshotTranslator(requireEmail: boolean): Translator {
  return parsing(stripeCustomer, 'customer', (c: StripeCustomer, source) => {
    const missing = [...(c.id ? [] : ['id']), ...(requireEmail && !c.email ? ['email'] : [])];
    if (missing.length > 0)
      return invalid(`Invalid customer data: Missing required fields: ${missing.join(', ')}`);
    if (!/^cus_[A-Za-z0-9_]+$/.test(c.id))
      return invalid(`Invalid customer data: Stripe customer id must start with cus_ (got ${c.id})`);
    if (c.email && !EMAIL.test(c.email))
      return invalid(`Invalid customer data: Invalid email format (${c.email})`);
    const userId =
      USER_ID_KEYS.map((k) => c.metadata[k]).find((v) => v !== undefined && v.trim() !== '') ?? null;
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
    return commands([{ aggregate: 'customer', command: { type: 'SyncCustomer', snapshot, ...source } }]);
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
    if (!subscriptionId)
      return {
        kind: 'commands',
        commands: [],
        note: `invoice ${invoice.id} belongs to no subscription: nothing to record`,
      };
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
    if (!raw.customer) return invalid('invalid discount: customer is required');
    const discount = normaliseDiscount(raw);
    if (raw.subscription) {
      const target = { subscriptionId: raw.subscription, customerId: raw.customer, ...source };
      const command: SubscriptionCommand = applied
        ? { type: 'ApplySubscriptionDiscount', ...target, discount }
        : { type: 'RemoveSubscriptionDiscount', ...target, discountId: discount.id };
      return commands([{ aggregate: 'subscription', command }]);
    }
    const target = { customerId: raw.customer, ...source };
    const command: CustomerCommand = applied
      ? { type: 'ApplyCustomerDiscount', ...target, discount }
      : { type: 'RemoveCustomerDiscount', ...target, discountId: discount.id };
    return commands([{ aggregate: 'customer', command }]);
  });
}

function paymentMethodTranslator(attached: boolean): Translator {
  return parsing(stripePaymentMethod, 'payment method', (pm, source, event) => {
    const previous = event.data.previous_attributes?.customer;
    const customerId = pm.customer ?? (typeof previous === 'string' ? previous : null);
    if (!customerId)
      return invalid(
        `invalid payment method: no customer on ${pm.id}${attached ? '' : ' nor in previous_attributes.customer'}`,
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
