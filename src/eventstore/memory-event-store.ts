import {
  asFailedOutcome,
  asStoredJson,
  assertValidEvents,
  assertValidRequests,
  decideAppend,
  type AppendDecision,
  type StoredEventRef,
} from './append-rules';
import { DEFAULT_READ_BATCH, followLog, untilClosed } from './follow-log';
import type {
  AppendSignal,
  AppendOutcome,
  AppendRequest,
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
    const result = this.apply(streamName, events, this.decide(streamName, events, expected));
    if (events.length > 0) this.wakeup.notify();
    return result;
  }

  /** Every request is checked before any is applied, so a group is all-or-nothing here too. */
  async appendMany(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    assertValidRequests(requests);
    const failedGroups = new Set<string>();
    const decisions = requests.map(({ streamName, events, expected, group }) => {
      try {
        return this.decide(streamName, events, expected);
      } catch (error) {
        if (group !== undefined) failedGroups.add(group);
        return asFailedOutcome(streamName, error);
      }
    });
    const outcomes = requests.map(({ streamName, events, group }, i): AppendOutcome => {
      const decision = decisions[i]!;
      if ('status' in decision) return decision;
      if (group !== undefined && failedGroups.has(group)) return { streamName, status: 'skipped' };
      const result = this.apply(streamName, events, decision);
      return { streamName, status: decision.kind === 'replay' ? 'replay' : 'appended', ...result };
    });
    if (outcomes.some((o) => o.status === 'appended')) this.wakeup.notify();
    return outcomes;
  }

  private decide(streamName: string, events: EventData[], expected: ExpectedRevision): AppendDecision {
    const stream = this.streams.get(streamName) ?? [];
    const current = stream.length === 0 ? undefined : stream.length - 1;
    return decideAppend(
      streamName,
      events,
      expected,
      current,
      events.map((event) => this.byId.get(event.id)),
    );
  }

  private apply(streamName: string, events: EventData[], decision: AppendDecision): AppendResult {
    if (decision.kind === 'replay')
      return { nextExpectedRevision: decision.nextExpectedRevision, position: decision.position };
    const stream = this.streams.get(streamName) ?? [];
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

  changes(): AppendSignal {
    return this.wakeup;
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
