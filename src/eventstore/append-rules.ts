import {
  DuplicateEventIdError,
  WrongExpectedRevisionError,
  type AppendOutcome,
  type AppendRequest,
  type EventData,
  type EventStore,
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

/** Each request valid on its own, each stream once, and no event id twice in the call. */
export function assertValidRequests(requests: AppendRequest[]): void {
  const streams = new Set<string>();
  const ids = new Set<string>();
  for (const { streamName, events } of requests) {
    assertValidEvents(streamName, events);
    if (streams.has(streamName))
      throw new TypeError(
        `appendMany: stream ${streamName} appears twice; merge its events into one request`,
      );
    streams.add(streamName);
    for (const event of events) {
      if (ids.has(event.id)) throw new DuplicateEventIdError(streamName, [event.id]);
      ids.add(event.id);
    }
  }
}

/** The conflicts appendToStream throws, as an outcome; anything else is rethrown. */
export function asFailedOutcome(streamName: string, error: unknown): AppendOutcome {
  if (error instanceof WrongExpectedRevisionError || error instanceof DuplicateEventIdError)
    return { streamName, status: 'failed', error };
  throw error;
}

/**
 * appendMany for stores without multi-stream transactions: one append after another. A failed
 * request skips the rest of its group, but what its group appended before it stays.
 */
export async function appendOneByOne(
  store: Pick<EventStore, 'appendToStream'>,
  requests: AppendRequest[],
): Promise<AppendOutcome[]> {
  assertValidRequests(requests);
  const failedGroups = new Set<string>();
  const outcomes: AppendOutcome[] = [];
  for (const { streamName, events, expected, group } of requests) {
    if (group !== undefined && failedGroups.has(group)) {
      outcomes.push({ streamName, status: 'skipped' });
      continue;
    }
    try {
      const result = await store.appendToStream(streamName, events, expected);
      outcomes.push({ streamName, status: 'appended', ...result });
    } catch (error) {
      outcomes.push(asFailedOutcome(streamName, error));
      if (group !== undefined) failedGroups.add(group);
    }
  }
  return outcomes;
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
