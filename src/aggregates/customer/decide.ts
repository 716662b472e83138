import { assertNever, type Decider } from '../../shared/decider';
import { compareClocks, sameData, type SnapshotClock } from '../shared/clock';
import { judgeMark, type Mark } from '../shared/marks';
import type { CustomerCommand, CustomerCommandOf } from './commands';
import type { CustomerEvent, CustomerEventOf } from './events';
import type { CustomerProfile, CustomerSnapshot } from './model';
import { evolveCustomer, initialCustomerState, type CustomerState, type RegisteredCustomer } from './state';

type Base = CustomerEventOf<'CustomerDeleted'>['data'];
type IgnoreReason = CustomerEventOf<'CustomerStaleEventIgnored'>['data']['reason'];
const PROFILE_FIELDS = ['email', 'name', 'phone', 'address', 'userId'] as const;

const profileOf = (c: CustomerProfile): CustomerProfile => ({
  email: c.email,
  name: c.name,
  phone: c.phone,
  address: c.address,
  userId: c.userId,
});

function ignored(
  base: Base,
  stripeEventType: string,
  reason: IgnoreReason,
  knownAt: string | null,
): CustomerEvent {
  return {
    type: 'CustomerStaleEventIgnored',
    data: { ...base, stripeEventType, reason, eventAt: base.occurredAt, knownAt },
  };
}

function snapshotFields(snap: CustomerSnapshot) {
  const { customerId: _c, ...fields } = snap;
  return fields;
}

function viewOf(s: RegisteredCustomer): ReturnType<typeof snapshotFields> {
  return {
    ...profileOf(s),
    createdAt: s.createdAt,
    defaultPaymentMethodId: s.defaultPaymentMethodId,
    deleted: s.deleted,
  };
}

/** Differences between what we hold and a newer snapshot, as events. */
function diff(s: RegisteredCustomer, snap: CustomerSnapshot, base: Base): CustomerEvent[] {
  const events: CustomerEvent[] = [];
  const changed = PROFILE_FIELDS.filter((f) => !sameData(s[f], snap[f]));
  if (changed.length > 0)
    events.push({
      type: 'CustomerProfileChanged',
      data: { ...base, ...profileOf(snap), previous: profileOf(s), changed },
    });
  if (s.defaultPaymentMethodId !== snap.defaultPaymentMethodId) {
    events.push({
      type: 'CustomerDefaultPaymentMethodChanged',
      data: {
        ...base,
        previousPaymentMethodId: s.defaultPaymentMethodId,
        paymentMethodId: snap.defaultPaymentMethodId,
      },
    });
  }
  if (snap.deleted && !s.deleted) events.push({ type: 'CustomerDeleted', data: base });
  const after = events.reduce<CustomerState>(evolveCustomer, s);
  const caughtUp = events.length > 0 && after.registered && sameData(viewOf(after), snapshotFields(snap));
  if (!caughtUp) events.push({ type: 'CustomerSynced', data: { ...base, ...snapshotFields(snap) } });
  return events;
}

/**
 * Reconcile with a customer snapshot: the first one registers the customer (a deleted one
 * then also records the deletion); a newer one becomes events; an older one, or a live one
 * after the deletion, is ignored explicitly; the same one again writes nothing.
 */
function sync(state: CustomerState, cmd: CustomerCommandOf<'SyncCustomer'>): CustomerEvent[] {
  const snap = cmd.snapshot;
  const base: Base = { customerId: snap.customerId, occurredAt: cmd.at, stripeEventId: cmd.stripeEventId };
  if (state.recentStripeEventIds.includes(cmd.stripeEventId)) return [];
  if (!state.registered) {
    const { deleted: _d, ...fields } = snapshotFields(snap);
    const registered: CustomerEvent = { type: 'CustomerRegistered', data: { ...base, ...fields } };
    return snap.deleted ? [registered, { type: 'CustomerDeleted', data: base }] : [registered];
  }
  const incoming: SnapshotClock = { terminal: snap.deleted, at: cmd.at, stripeEventId: cmd.stripeEventId };
  const order = compareClocks(incoming, state.lastSnapshot);
  if (order === 0) return [];
  if (order < 0)
    return [
      ignored(
        base,
        cmd.stripeEventType,
        state.lastSnapshot.terminal && !incoming.terminal ? 'customer_deleted' : 'stale_snapshot',
        state.lastSnapshot.at,
      ),
    ];
  return diff(state, snap, base);
}

type MarkCommand = CustomerCommandOf<
  'AttachPaymentMethod' | 'DetachPaymentMethod' | 'ApplyCustomerDiscount' | 'RemoveCustomerDiscount'
>;

/** Payment methods and customer-wide discounts: per element, the latest Stripe event wins. */
function recordMark(state: CustomerState, cmd: MarkCommand): CustomerEvent[] {
  if (state.recentStripeEventIds.includes(cmd.stripeEventId)) return [];
  const base: Base = { customerId: cmd.customerId, occurredAt: cmd.at, stripeEventId: cmd.stripeEventId };
  let current: Mark<unknown> | undefined;
  let event: CustomerEvent;
  let reason: IgnoreReason;
  switch (cmd.type) {
    case 'AttachPaymentMethod':
      current = state.paymentMethods[cmd.paymentMethod.id];
      event = { type: 'CustomerPaymentMethodAttached', data: { ...base, paymentMethod: cmd.paymentMethod } };
      reason = 'stale_payment_method_event';
      break;
    case 'DetachPaymentMethod':
      current = state.paymentMethods[cmd.paymentMethodId];
      event = {
        type: 'CustomerPaymentMethodDetached',
        data: { ...base, paymentMethodId: cmd.paymentMethodId },
      };
      reason = 'stale_payment_method_event';
      break;
    case 'ApplyCustomerDiscount':
      current = state.discounts[cmd.discount.id];
      event = { type: 'CustomerDiscountApplied', data: { ...base, discount: cmd.discount } };
      reason = 'stale_discount_event';
      break;
    case 'RemoveCustomerDiscount':
      current = state.discounts[cmd.discountId];
      event = { type: 'CustomerDiscountRemoved', data: { ...base, discountId: cmd.discountId } };
      reason = 'stale_discount_event';
      break;
    default:
      return assertNever(cmd);
  }
  const verdict = judgeMark(current, cmd.at, cmd.stripeEventId);
  if (verdict === 'duplicate') return [];
  if (verdict === 'stale') return [ignored(base, cmd.stripeEventType, reason, current?.at ?? null)];
  return [event];
}

/** The command's warnings go with the first event it decided (the fact they qualify), once. */
function withWarnings(events: CustomerEvent[], warnings: readonly string[] | undefined): CustomerEvent[] {
  const [first, ...rest] = events;
  if (!first || !warnings || warnings.length === 0) return events;
  return [{ ...first, data: { ...first.data, warnings: [...warnings] } } as CustomerEvent, ...rest];
}

export function decideCustomer(command: CustomerCommand, state: CustomerState): CustomerEvent[] {
  switch (command.type) {
    case 'SyncCustomer':
      return withWarnings(sync(state, command), command.warnings);
    case 'AttachPaymentMethod':
    case 'DetachPaymentMethod':
    case 'ApplyCustomerDiscount':
    case 'RemoveCustomerDiscount':
      return recordMark(state, command);
    default:
      return assertNever(command);
  }
}

export const customerDecider: Decider<CustomerCommand, CustomerEvent, CustomerState> = {
  initialState: initialCustomerState,
  evolve: evolveCustomer,
  decide: decideCustomer,
};
