import fc from 'fast-check';
import { simulate } from '../../../property/lifecycle-simulator';
import { lifecycleArbitrary } from '../../../property/lifecycle-arbitrary';
import type { StripeEvent } from '../../../support/stripe-fixtures';
import { processStripeEvent } from '../../../../src/commands/process-stripe-event';
import { normaliseSubscription } from '../../../../src/commands/stripe/normalise';
import { stripeSubscription } from '../../../../src/commands/stripe/schemas';
import { MemoryEventStore } from '../../../../src/eventstore/memory-event-store';
import { fold } from '../../../../src/shared/decider';
import { computeMrr } from '../../../../src/aggregates/money/mrr';
import { customerDecider } from '../../../../src/aggregates/customer/decide';
import type { CustomerEvent } from '../../../../src/aggregates/customer/events';
import { parseDomainEvent } from '../../../../src/aggregates/events';
import { subscriptionDecider, subscriptionMrr } from '../../../../src/aggregates/subscription/decide';
import type { SubscriptionEvent } from '../../../../src/aggregates/subscription/events';

/**
 * ARCHITECTURE rule 2: whatever order Stripe delivers the same events in, duplicates
 * included, every aggregate ends in the same state with the same MRR.
 */
const LIFECYCLES = Number(process.env.PROPERTY_LIFECYCLES ?? 300);
const PERMUTATIONS = Number(process.env.PROPERTY_PERMUTATIONS ?? 10);

const lifecycleArb = lifecycleArbitrary({
  minLength: 5,
  maxLength: 60,
  gaps: [0, 0, 1, 3600, 86_400, 30 * 86_400],
});

/** Arrival order: a shuffle with some events delivered two or three times. */
const deliveriesArb = (count: number) =>
  fc.tuple(
    fc.array(fc.nat(), { minLength: count, maxLength: count }),
    fc.array(fc.nat(count - 1), { maxLength: Math.ceil(count / 3) }),
  );

function arrange<T>(events: readonly T[], [keys, extra]: [number[], number[]]): T[] {
  const copies = [
    ...events.map((e, i) => ({ e, k: keys[i] ?? 0, i })),
    ...extra.map((i, j) => ({ e: events[i]!, k: keys[(i + j) % keys.length] ?? j, i: events.length + j })),
  ];
  return copies.sort((a, b) => a.k - b.k || a.i - b.i).map((c) => c.e);
}

type Final = Record<string, { state: unknown; mrr: unknown }>;

/** Final state per stream, without the bookkeeping that records the arrival order itself. */
async function finalStates(store: MemoryEventStore): Promise<Final> {
  const all = await store.readAll({ maxCount: 1_000_000 });
  const streams = [...new Set(all.map((e) => e.streamName))].sort();
  const out: Final = {};
  for (const name of streams) {
    const events = all
      .filter((e) => e.streamName === name)
      .map((r) => parseDomainEvent(r.type, r.data, r.metadata.schemaVersion));
    if (name.startsWith('subscription-')) {
      const state = fold(subscriptionDecider, events as SubscriptionEvent[]);
      const { recentStripeEventIds: _i, trialEndingNotices: _t, ...rest } = state;
      if (state.started) expect(state.mrr).toEqual(subscriptionMrr(state));
      out[name] = { state: rest, mrr: state.started ? state.mrr : null };
    } else {
      const { recentStripeEventIds: _i, ...rest } = fold(customerDecider, events as CustomerEvent[]);
      out[name] = { state: rest, mrr: null };
    }
  }
  return out;
}

async function deliver(deliveries: readonly StripeEvent[]): Promise<MemoryEventStore> {
  const store = new MemoryEventStore();
  const seen = new Set<string>();
  for (const event of deliveries) {
    const result = await processStripeEvent(store, event);
    if (result.outcome !== 'applied')
      throw new Error(`${event.type} ${event.id}: ${result.outcome} ${result.reason ?? ''}`);
    if (seen.has(event.id)) expect(result.appended.every((a) => a.count === 0)).toBe(true);
    seen.add(event.id);
  }
  return store;
}

/** The last snapshot Stripe sent per subscription: the state every order must end on. */
function lastSnapshots(events: readonly StripeEvent[]) {
  const last = new Map<string, ReturnType<typeof normaliseSubscription>>();
  for (const e of events) {
    if (!e.type.startsWith('customer.subscription.')) continue;
    const snap = normaliseSubscription(stripeSubscription.parse(e.data.object));
    last.set(snap.subscriptionId, snap);
  }
  return last;
}

describe('Subscription lifecycles: any arrival order, with duplicates, ends the same', () => {
  let lifecycles = 0;
  let permutations = 0;
  let deliveries = 0;
  let staleIgnored = 0;

  afterAll(() => {
    console.log(
      `property: ${lifecycles} lifecycles, ${permutations} permutations (with duplicates), ${deliveries} webhook deliveries, ${staleIgnored} stale events ignored explicitly`,
    );
  });

  it('same final state and MRR per aggregate as the in-order delivery, and the last snapshot is what they hold', async () => {
    await fc.assert(
      fc.asyncProperty(
        lifecycleArb.chain((spec) => {
          const events = simulate(spec);
          return fc.tuple(
            fc.constant(spec),
            fc.constant(events),
            fc.array(deliveriesArb(events.length), { minLength: PERMUTATIONS, maxLength: PERMUTATIONS }),
          );
        }),
        async ([, events, orders]) => {
          lifecycles++;
          const reference = await finalStates(await deliver(events));
          for (const [id, snap] of lastSnapshots(events)) {
            const held = reference[`subscription-${id}`]?.state as Record<string, unknown>;
            expect(held).toMatchObject({
              status: snap.status,
              items: snap.items,
              snapshotDiscounts: snap.discounts,
              currentPeriodEnd: snap.currentPeriodEnd,
              cancelAtPeriodEnd: snap.cancelAtPeriodEnd,
            });
            expect(reference[`subscription-${id}`]?.mrr).toEqual(computeMrr(snap));
          }
          const lastCustomer = [...events]
            .reverse()
            .find(
              (e) =>
                e.type.startsWith('customer.') &&
                !e.type.startsWith('customer.subscription.') &&
                !e.type.startsWith('customer.discount.'),
            );
          const c = lastCustomer?.data.object as
            | { email: string; name: string; invoice_settings: { default_payment_method: string | null } }
            | undefined;
          expect(reference['customer-cus_L1']?.state).toMatchObject({
            registered: true,
            email: c?.email,
            name: c?.name,
            defaultPaymentMethodId: c?.invoice_settings.default_payment_method,
            deleted: lastCustomer?.type === 'customer.deleted',
          });
          for (const order of orders) {
            const arrival = arrange(events, order);
            const store = await deliver(arrival);
            permutations++;
            deliveries += arrival.length;
            staleIgnored += (await store.readAll({ maxCount: 1_000_000 })).filter((e) =>
              e.type.endsWith('StaleEventIgnored'),
            ).length;
            expect(await finalStates(store)).toEqual(reference);
          }
        },
      ),
      { numRuns: LIFECYCLES },
    );
  }, 600_000);
});
