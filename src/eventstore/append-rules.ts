import {
  DuplicateEventIdError,
  WrongExpectedRevisionError,
  type EventData,
  type ExpectedRevision,
} from './port';

/**
 * The append rules every adapter follows (the PostgreSQL adapter runs the same rules in SQL,
 * migrations/0001_event_store.sql; KurrentDB enforces its own equivalent on the server).
 */

/** Where an event id is already stored. */
export interface StoredEventRef {
  streamName: string;
  revision: number;
  position: bigint;
}

export type AppendDecision =
  | { kind: 'append'; firstRevision: number }
  /** Every event is already the stream's event where this append would put it: store nothing. */
  | { kind: 'replay'; nextExpectedRevision: number; position: bigint };

// Any UUID version: ids are derived from the input (e.g. v5 of the Stripe event id) or random.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertValidEvents(streamName: string, events: EventData[]): void {
  if (streamName.length === 0) throw new TypeError('Stream name must not be empty');
  const ids = new Set<string>();
  for (const event of events) {
    if (!UUID.test(event.id)) throw new TypeError(`Event id ${JSON.stringify(event.id)} is not a UUID`);
    if (ids.has(event.id)) throw new DuplicateEventIdError(streamName, [event.id]);
    ids.add(event.id);
  }
}

/** `current` is the stream's last revision, undefined when it does not exist. */
export function checkExpectedRevision(
  streamName: string,
  expected: ExpectedRevision,
  current: number | undefined,
): void {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && current === undefined) ||
    (expected === 'stream_exists' && current !== undefined) ||
    expected === current;
  if (!ok) throw new WrongExpectedRevisionError(streamName, expected, current ?? 'no_stream');
}

/**
 * Idempotency first (a retry of an append that already succeeded must succeed even though the
 * stream has moved on), then the expected revision.
 */
export function decideAppend(
  streamName: string,
  events: EventData[],
  expected: ExpectedRevision,
  current: number | undefined,
  found: (StoredEventRef | undefined)[],
): AppendDecision {
  const stored = found.filter((ref): ref is StoredEventRef => ref !== undefined);
  if (stored.length > 0) {
    const first = found[0];
    const firstRevision =
      expected === 'no_stream' ? 0 : typeof expected === 'number' ? expected + 1 : first?.revision;
    const isReplay =
      first !== undefined &&
      stored.length === events.length &&
      found.every((ref, i) => ref?.streamName === streamName && ref.revision === (firstRevision ?? -1) + i);
    const last = found[found.length - 1];
    if (isReplay && last)
      return { kind: 'replay', nextExpectedRevision: last.revision, position: last.position };
    throw new DuplicateEventIdError(
      streamName,
      events.filter((_, i) => found[i] !== undefined).map((event) => event.id),
    );
  }
  checkExpectedRevision(streamName, expected, current);
  return { kind: 'append', firstRevision: (current ?? -1) + 1 };
}

/** Stored data and metadata are JSON: what comes back is what JSON keeps (no undefined, no Dates). */
export function asStoredJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
