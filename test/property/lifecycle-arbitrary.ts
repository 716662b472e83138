import fc from 'fast-check';
import { ACTIONS, type LifecycleSpec } from './lifecycle-simulator';

/** Generated lifecycles for the property tests: one or two subscriptions and a run of actions. */
export function lifecycleArbitrary(steps: {
  minLength: number;
  maxLength: number;
  /** Seconds between steps to pick from (0: two Stripe events in the same second). */
  gaps: readonly number[];
  /** Long lives: fast-check's default size keeps arrays short. */
  fullSize?: boolean;
}): fc.Arbitrary<LifecycleSpec> {
  return fc.record({
    apiShape: fc.constantFrom('legacy' as const, 'basil' as const),
    subscriptions: fc.array(
      fc.record({
        start: fc.constantFrom('trialing' as const, 'active' as const, 'incomplete' as const),
        price: fc.nat(7),
        quantity: fc.integer({ min: 1, max: 4 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    steps: fc.array(
      fc.record({
        subscription: fc.constantFrom(0 as const, 1 as const),
        action: fc.constantFrom(...ACTIONS),
        dt: fc.constantFrom(...steps.gaps),
      }),
      {
        minLength: steps.minLength,
        maxLength: steps.maxLength,
        ...(steps.fullSize ? { size: 'max' as const } : {}),
      },
    ),
  });
}
