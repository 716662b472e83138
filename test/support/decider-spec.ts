import { fold, type Decider } from '../../src/shared/decider';

/**
 * Given / When / Then over a decider, for tests:
 * `spec.given([events]).when(command).then([events])`, `.thenThrows(code)`, and the
 * state the events lead to with `.thenState(check)`.
 */
export function deciderSpec<C, E, S>(decider: Decider<C, E, S>) {
  return {
    given(events: E[]) {
      return {
        when(command: C) {
          const run = () => decider.decide(command, fold(decider, events));
          return {
            then(expected: E[]): void {
              expect(run()).toEqual(expected);
            },
            /** Exactly these event types, in this order, each with at least the given data. */
            thenMatch(expected: { type: string; data?: Record<string, unknown> }[]): void {
              expect(run()).toEqual(
                expected.map((e) =>
                  expect.objectContaining({ type: e.type, data: expect.objectContaining(e.data ?? {}) }),
                ),
              );
            },
            thenThrows(code: string): void {
              expect(run).toThrow(expect.objectContaining({ code }));
            },
            /** The decided events, for assertions on parts of them. */
            events(): E[] {
              return run();
            },
            thenState(check: (state: S, decided: E[]) => void): void {
              const decided = run();
              check(fold(decider, [...events, ...decided]), decided);
            },
          };
        },
      };
    },
  };
}

/** The events a decider records for these commands, handled one after the other. */
export function recorded<C, E, S>(decider: Decider<C, E, S>, commands: C[]): E[] {
  const events: E[] = [];
  for (const command of commands) events.push(...decider.decide(command, fold(decider, events)));
  return events;
}
