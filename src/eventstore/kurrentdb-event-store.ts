import {
  ANY,
  BACKWARDS,
  END,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type ReadPosition,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { appendOneByOne, assertValidEvents } from './append-rules';
import { DEFAULT_READ_BATCH, DEFAULT_SUBSCRIPTION_BATCH } from './follow-log';
import {
  WrongExpectedRevisionError,
  type AppendOutcome,
  type AppendRequest,
  type AppendResult,
  type EventData,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
  type RecordedEvent,
  type SubscribeOptions,
} from './port';

/**
 * The production event store: EventStoreDB / KurrentDB through the maintained client.
 *
 * Positions: KurrentDB positions $all by a pair {commit, prepare}; the port's position is one
 * bigint, and this adapter uses the commit position. It is a byte offset in the transaction log
 * (not dense, which the port allows). Every event of a plain append (an implicit transaction) is
 * its own log record whose commit position is its own log position, so commit positions order
 * $all and serve as exclusive checkpoints; to resume, a checkpoint is given back as
 * {commit, prepare: commit}, which is that record's full position. (Read from the server's
 * design, not run here: there is no server on these machines.) readStream returns positions
 * only from servers 22.6 and later; older ones give 0n there, $all reads are unaffected.
 *
 * Idempotency is the server's: with an explicit expected revision it recognises events whose
 * ids are already at that place in the stream and writes nothing. It does not check ids stored
 * elsewhere (other streams), unlike the PostgreSQL and memory stores.
 */
export class KurrentDbEventStore implements EventStore {
  private readonly closing = new AbortController();

  constructor(private readonly client: KurrentDBClient) {}

  static fromConnectionString(connectionString: string): KurrentDbEventStore {
    return new KurrentDbEventStore(KurrentDBClient.connectionString(connectionString));
  }

  /** KurrentDB has no multi-stream transaction: one append after another (see appendOneByOne). */
  appendMany(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    return appendOneByOne(this, requests);
  }

  async appendToStream(
    streamName: string,
    events: EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    assertValidEvents(streamName, events);
    try {
      const result = await this.client.appendToStream(
        streamName,
        events.map(({ id, type, data, metadata }) => jsonEvent({ id, type, data, metadata })),
        // Always explicit: ANY only where the caller asked for no check.
        { streamState: toStreamState(expected) },
      );
      return {
        nextExpectedRevision: Number(result.nextExpectedRevision),
        position: result.position?.commit ?? 0n,
      };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = error.actualState;
        throw new WrongExpectedRevisionError(
          streamName,
          expected,
          typeof actual === 'bigint' ? Number(actual) : 'no_stream',
        );
      }
      throw error;
    }
  }

  async readStream(streamName: string, fromRevision = 0): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamName, {
        fromRevision: BigInt(fromRevision),
        direction: FORWARDS,
      })) {
        const recorded = toRecorded(resolved);
        if (recorded) events.push(recorded);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after;
    const maxCount = options.maxCount ?? DEFAULT_READ_BATCH;
    const events: RecordedEvent[] = [];
    // Reading from a position includes the event at it; `after` is exclusive, so ask for one more.
    for await (const resolved of this.client.readAll({
      fromPosition: toReadPosition(after),
      maxCount: maxCount + 1,
      direction: FORWARDS,
      filter: excludeSystemEvents(),
    })) {
      const recorded = toRecorded(resolved);
      if (!recorded || (after !== undefined && recorded.position <= after)) continue;
      events.push(recorded);
      if (events.length === maxCount) break;
    }
    return events;
  }

  /**
   * A catch-up subscription on $all, filtered on the server (no system events). The client's
   * subscription is a readable stream: iterating it pulls, and the server stops sending while
   * the stream's buffer is full, so a slow consumer applies back-pressure.
   */
  async *subscribeToAll(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    if (signal.aborted) return;
    const subscription = this.client.subscribeToAll(
      { fromPosition: toReadPosition(options.after), filter: excludeSystemEvents() },
      { highWaterMark: options.batchSize ?? DEFAULT_SUBSCRIPTION_BATCH },
    );
    const stop = (): void => void subscription.unsubscribe().catch(() => undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const resolved of subscription) {
        if (signal.aborted) return;
        const recorded = toRecorded(resolved);
        if (recorded) yield recorded;
      }
    } finally {
      signal.removeEventListener('abort', stop);
      await subscription.unsubscribe().catch(() => undefined);
    }
  }

  async headPosition(): Promise<bigint> {
    for await (const resolved of this.client.readAll({
      fromPosition: END,
      direction: BACKWARDS,
      maxCount: 1,
      filter: excludeSystemEvents(),
    })) {
      const recorded = toRecorded(resolved);
      if (recorded) return recorded.position;
    }
    return 0n;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.client.dispose();
  }
}

function toStreamState(expected: ExpectedRevision): AppendStreamState {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    case 'any':
      return ANY;
    default:
      return BigInt(expected);
  }
}

function toReadPosition(after: bigint | undefined): ReadPosition {
  return after === undefined || after === 0n ? START : { commit: after, prepare: after };
}

function toRecorded(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event || !event.isJson) return undefined;
  return {
    id: event.id,
    type: event.type,
    data: event.data as Record<string, unknown>,
    metadata: event.metadata as EventMetadata,
    streamName: event.streamId,
    revision: Number(event.revision),
    position: event.position?.commit ?? resolved.commitPosition ?? 0n,
    recordedAt: event.created,
  };
}
