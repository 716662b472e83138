import { asStoredJson, assertValidEvents, decideAppend, type StoredEventRef } from './append-rules';
import { DEFAULT_READ_BATCH, followLog, untilClosed } from './follow-log';
import type {
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  RecordedEvent,
  SubscribeOptions,
} from './port';
import { Wakeup } from './wakeup';

/** For unit tests: the same contract as the real stores, nothing kept beyond the process. */
export class MemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, StoredEventRef>();
  private readonly wakeup = new Wakeup();
  private readonly closing = new AbortController();

  async appendToStream(
    streamName: string,
    events: EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    assertValidEvents(streamName, events);
    const stream = this.streams.get(streamName) ?? [];
    const current = stream.length === 0 ? undefined : stream.length - 1;
    const decision = decideAppend(
      streamName,
      events,
      expected,
      current,
      events.map((event) => this.byId.get(event.id)),
    );
    if (decision.kind === 'replay')
      return { nextExpectedRevision: decision.nextExpectedRevision, position: decision.position };
    const recordedAt = new Date();
    events.forEach((event, i) => {
      const recorded: RecordedEvent = {
        ...asStoredJson({ id: event.id, type: event.type, data: event.data, metadata: event.metadata }),
        streamName,
        revision: decision.firstRevision + i,
        position: BigInt(this.log.length + 1),
        recordedAt,
      };
      this.log.push(recorded);
      stream.push(recorded);
      this.byId.set(event.id, recorded);
    });
    this.streams.set(streamName, stream);
    if (events.length > 0) this.wakeup.notify();
    return {
      nextExpectedRevision: stream.length - 1,
      position: stream[stream.length - 1]?.position ?? 0n,
    };
  }

  async readStream(streamName: string, fromRevision = 0): Promise<RecordedEvent[]> {
    return (this.streams.get(streamName) ?? []).slice(fromRevision).map(copy);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    // Position n is at index n - 1.
    const start = Number(options.after ?? 0n);
    return this.log.slice(start, start + (options.maxCount ?? DEFAULT_READ_BATCH)).map(copy);
  }

  subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    return followLog(
      (after, maxCount) => this.readAll({ after, maxCount }),
      this.wakeup,
      untilClosed(options, this.closing.signal),
    );
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.log.length);
  }

  async close(): Promise<void> {
    this.closing.abort();
  }
}

function copy(event: RecordedEvent): RecordedEvent {
  return {
    ...event,
    ...asStoredJson({ data: event.data, metadata: event.metadata }),
    recordedAt: new Date(event.recordedAt),
  };
}
