/**
 * The event store port. The rest of the code cannot tell which adapter it has
 * (PostgreSQL, EventStoreDB/KurrentDB, in-memory): one contract suite runs against each.
 *
 * Revisions are per stream, 0-based. Positions are global, strictly increasing in the
 * order events become visible to readers; a follower never sees a position lower than
 * one it has already seen.
 */

export interface EventMetadata {
  /** Version of the event's schema (the `data` shape). */
  schemaVersion: number;
  correlationId?: string;
  causationId?: string;
  /** The Stripe event that caused this event, when there is one. */
  stripeEventId?: string;
  stripeEventType?: string;
  /** Business time the event happened (ISO-8601), e.g. the Stripe event's `created`. */
  occurredAt?: string;
  /** What caused it: stripe | portal | saga | operator. */
  source?: string;
  [key: string]: unknown;
}

export interface EventData {
  /** UUID. Deterministic from the input (e.g. Stripe event id + index) so retried appends are idempotent. */
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

export interface RecordedEvent extends EventData {
  streamName: string;
  revision: number;
  position: bigint;
  recordedAt: Date;
}

/** `no_stream`: the stream must not exist; `stream_exists`: it must; `any`: no check; a number: the exact last revision. */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | number;

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  nextExpectedRevision: number;
  /** Global position of the last event appended (or already present when the append was a replay). */
  position: bigint;
}

/** One stream's part of a multi-stream append. */
export interface AppendRequest {
  streamName: string;
  events: EventData[];
  expected: ExpectedRevision;
  /**
   * Requests with the same group are all-or-nothing: when one fails, the others answer `skipped`
   * and store nothing. Atomic on PostgreSQL and in memory; stores without multi-stream
   * transactions (KurrentDB) apply them one by one and skip the group's remaining requests.
   */
  group?: string;
}

/** What became of one request of `appendMany`, in request order. */
export type AppendOutcome =
  | ({ streamName: string; status: 'appended' | 'replay' } & AppendResult)
  | { streamName: string; status: 'failed'; error: WrongExpectedRevisionError | DuplicateEventIdError }
  | { streamName: string; status: 'skipped' };

export interface ReadAllOptions {
  /** Exclusive: read events with a position greater than this. Omit to start at the beginning. */
  after?: bigint;
  maxCount?: number;
}

export interface SubscribeOptions {
  /** Exclusive start position (a checkpoint). Omit to start at the beginning. */
  after?: bigint;
  /** Stops the subscription; the iterator then ends. */
  signal?: AbortSignal;
  /** Events fetched per round trip while catching up. */
  batchSize?: number;
}

export interface EventStore {
  /**
   * Append atomically. Idempotent on event id: appending events that are already the
   * stream's events at the expected revision stores nothing and succeeds.
   * @throws WrongExpectedRevisionError
   */
  appendToStream(streamName: string, events: EventData[], expected: ExpectedRevision): Promise<AppendResult>;
  /**
   * Several streams at once (each stream at most once per call), with the same rules per
   * request as appendToStream. A conflict answers that request (and its group) `failed` /
   * `skipped` instead of throwing, so the other requests are not lost. PostgreSQL does the
   * whole call in one transaction under one acquisition of the log's lock.
   */
  appendMany(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  /** Events of one stream, forwards from a revision (inclusive). Empty when the stream does not exist. */
  readStream(streamName: string, fromRevision?: number): Promise<RecordedEvent[]>;
  /** One batch of the whole log, forwards. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Catch up from a position, then follow live. Pull-based: the next batch is only fetched
   * when the consumer asks for more (back-pressure).
   */
  subscribeToAll(options?: SubscribeOptions): AsyncIterable<RecordedEvent>;
  /**
   * Signals appends, for followers that read in batches (the relay): note `version` before a
   * read, then `waitAfter(version)`. PostgreSQL hears other processes' appends (LISTEN/NOTIFY).
   * Stores without it are polled.
   */
  changes?(): AppendSignal;
  /** Position of the last event in the log (0n when empty). */
  headPosition(): Promise<bigint>;
  close(): Promise<void>;
}

export interface AppendSignal {
  readonly version: number;
  waitAfter(seen: number, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
}

export class WrongExpectedRevisionError extends Error {
  readonly code = 'EVENT_STORE.WRONG_EXPECTED_REVISION';
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`Stream ${streamName}: expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/**
 * Some of the appended event ids are already stored, but not as this append's events at the
 * positions it would give them (another stream, other revisions, or only part of the batch).
 * Deterministic ids make this a bug in the caller, not a retry.
 */
export class DuplicateEventIdError extends Error {
  readonly code = 'EVENT_STORE.DUPLICATE_EVENT_ID';
  constructor(
    readonly streamName: string,
    readonly eventIds: string[],
  ) {
    super(`Stream ${streamName}: event id(s) ${eventIds.join(', ')} already stored elsewhere`);
    this.name = 'DuplicateEventIdError';
  }
}
