import fc from 'fast-check';
import { toBusEvent, type BusEvent } from '../../src/bus/port';
import { loadCatalog } from '../../src/catalog/catalog';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import { entitlementsProjection } from '../../src/projections/entitlements/entitlements-projection';
import { silentLogger } from '../../src/shared/logger';
import { ACTIONS, simulate } from '../property/lifecycle-simulator';
import { lifecycleArbitrary } from '../property/lifecycle-arbitrary';
import { legacyEntitlementsProjection } from '../support/legacy-entitlements-fold';
import type { StripeEvent } from '../support/stripe-fixtures';

/**
 * The feature-access fold keeps its own small document instead of the write side's
 * SubscriptionState. Over generated lifecycles (delivered in order, and shuffled with
 * duplicates so stale and out-of-order facts reach the log), the rendered entitlements of the
 * new fold equal those of the fold built on evolveSubscription, after every event of the log.
 */
const LIFECYCLES = Number(process.env.PROPERTY_LIFECYCLES ?? 200);

const lifecycleArb = lifecycleArbitrary({
  minLength: 10,
  maxLength: 80,
  gaps: [0, 1, 3600, 86_400, 30 * 86_400],
  fullSize: true,
});

async function logOf(deliveries: readonly StripeEvent[]): Promise<BusEvent[]> {
  const store = new MemoryEventStore();
  for (const event of deliveries) await processStripeEvent(store, event);
  return (await store.readAll({ maxCount: 1_000_000 })).map(toBusEvent);
}

/** A shuffle of the deliveries, with some delivered again. */
function shuffled<T>(events: readonly T[], keys: number[], again: number[]): T[] {
  const copies = [
    ...events.map((e, i) => ({ e, k: keys[i % keys.length] ?? i })),
    ...again.map((i, j) => ({ e: events[i % events.length]!, k: keys[(i + j) % keys.length] ?? j })),
  ];
  return copies.sort((a, b) => a.k - b.k).map((c) => c.e);
}

describe('entitlements fold: own small document, same answers as the evolveSubscription fold', () => {
  const catalog = loadCatalog();
  const next = entitlementsProjection(catalog, silentLogger);
  const legacy = legacyEntitlementsProjection(catalog, silentLogger);
  let prefixes = 0;
  const distinct = new Set<string>();

  afterAll(() => {
    console.log(
      `equivalence: ${prefixes} log prefixes compared, ${distinct.size} distinct tier/status/reason answers`,
    );
  });

  it('renders the same entitlements (and user id) at every prefix of every generated log', async () => {
    await fc.assert(
      fc.asyncProperty(
        lifecycleArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        async (spec, keys, again) => {
          const stripeEvents = simulate(spec);
          for (const deliveries of [stripeEvents, shuffled(stripeEvents, keys, again)]) {
            const log = await logOf(deliveries);
            let ours = next.initial('cus_L1');
            let theirs = legacy.initial('cus_L1');
            for (const event of log) {
              ours = next.apply(ours, event);
              theirs = legacy.apply(theirs, event);
              const position = BigInt(event.position);
              const rendered = next.render(ours, position);
              expect(rendered).toEqual(legacy.render(theirs, position));
              expect(next.userIdOf(ours)).toBe(legacy.userIdOf(theirs));
              // Both know the same subscriptions, so `?at=` and rebuilds read the same streams.
              expect(Object.keys(ours.subscriptions).sort()).toEqual(
                Object.keys(theirs.subscriptions).sort(),
              );
              prefixes++;
              distinct.add(`${rendered.tier}/${rendered.status}/${rendered.reason}`);
            }
          }
        },
      ),
      { numRuns: LIFECYCLES },
    );
    // The generated lives reach the interesting answers, not only "active".
    expect([...distinct]).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/\/trial$/),
        expect.stringMatching(/\/dunning_exhausted$/),
        expect.stringMatching(/\/trial_ended$/),
        expect.stringMatching(/\/cancellation_scheduled_grace$/),
        expect.stringMatching(/\/payment_past_due_grace$/),
        expect.stringMatching(/\/customer_deleted$/),
      ]),
    );
  }, 600_000);

  it('keeps a document much smaller than the write side state', async () => {
    const log = await logOf(
      simulate({
        apiShape: 'basil',
        subscriptions: [{ start: 'trialing', price: 1, quantity: 1 }],
        steps: ACTIONS.map((action) => ({ subscription: 0 as const, action, dt: 86_400 })),
      }),
    );
    const ours = log.reduce((s, e) => next.apply(s, e), next.initial('cus_L1'));
    const theirs = log.reduce((s, e) => legacy.apply(s, e), legacy.initial('cus_L1'));
    expect(JSON.stringify(ours).length * 2).toBeLessThan(JSON.stringify(theirs).length);
  });
});
