import { parseDomainEvent, schemaVersions, type DomainEvent } from '../aggregates/events';
import {
  DuplicateEventIdError,
  WrongExpectedRevisionError,
  type AppendOutcome,
  type AppendRequest,
  type EventData,
  type EventStore,
  type RecordedEvent,
} from '../eventstore/port';
import { fold, type Decider } from '../shared/decider';
import { eventIdFor } from './event-id';

/** Why a command is being handled: becomes every event's metadata, and its idempotency key. */
export interface CommandContext {
  /** What caused the command (the Stripe event id for Stripe): the events' ids derive from it, so a retry stores nothing twice. */
  causationId: string;
  correlationId?: string;
  stripeEventId?: string;
  stripeEventType?: string;
  /** Business time of the cause (ISO-8601). */
  occurredAt: string;
  source: 'stripe' | 'portal' | 'saga' | 'operator';
}

export interface HandleCommandOptions {
  /** Attempts in all when appends race (WrongExpectedRevisionError): each reloads and decides again. */
  maxAttempts?: number;
}

export interface HandleCommandResult {
  streamName: string;
  /** Events appended by this call (0 when the decision was empty or the cause was already handled). */
  count: number;
  alreadyHandled: boolean;
}

export class ConcurrencyRetriesExhaustedError extends Error {
  readonly code = 'COMMAND.CONCURRENCY_RETRIES_EXHAUSTED';
  constructor(
    readonly streamName: string,
    attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`Stream ${streamName}: still conflicting after ${attempts} attempts`, options);
    this.name = 'ConcurrencyRetriesExhaustedError';
  }
}

export function toEventData(
  events: readonly DomainEvent[],
  streamName: string,
  ctx: CommandContext,
): EventData[] {
  return events.map((event, index) => ({
    id: eventIdFor(ctx.causationId, streamName, index),
    type: event.type,
    data: event.data,
    metadata: {
      schemaVersion: schemaVersions[event.type],
      causationId: ctx.causationId,
      correlationId: ctx.correlationId ?? ctx.causationId,
      ...(ctx.stripeEventId ? { stripeEventId: ctx.stripeEventId } : {}),
      ...(ctx.stripeEventType ? { stripeEventType: ctx.stripeEventType } : {}),
      occurredAt: event.data.occurredAt,
      source: ctx.source,
    },
  }));
}

/** A stream folded up to a revision (`no_stream` when it has no events). */
export interface LoadedStream<S> {
  revision: number | 'no_stream';
  state: S;
}

/**
 * Recently used streams' state and revision, so a command does not re-read its whole stream.
 * Only a cache: every append still carries the revision, and a WrongExpectedRevisionError
 * (someone else appended) drops the entry and reloads. Bounded: the least recently used go first.
 */
export class StreamStateCache {
  private readonly entries = new Map<string, LoadedStream<unknown>>();

  constructor(readonly maxStreams = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  get<S>(streamName: string): LoadedStream<S> | undefined {
    const entry = this.entries.get(streamName);
    if (entry === undefined) return undefined;
    this.entries.delete(streamName);
    this.entries.set(streamName, entry);
    return entry as LoadedStream<S>;
  }

  set<S>(streamName: string, entry: LoadedStream<S>): void {
    this.entries.delete(streamName);
    this.entries.set(streamName, entry);
    if (this.entries.size > this.maxStreams) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(streamName: string): void {
    this.entries.delete(streamName);
  }
}

/** The next revision after appending `count` events at `revision`. */
const advance = (revision: number | 'no_stream', count: number): number | 'no_stream' =>
  count === 0 ? revision : (revision === 'no_stream' ? -1 : revision) + count;

/**
 * Loads, decides and appends with the expected revision, keeping what it loaded in a cache.
 * Idempotency without scanning the stream for the cause: the decision itself is idempotent (the
 * aggregates remember their recent Stripe event ids), and when it is not (a cause older than
 * that memory, or an append whose reply was lost), the deterministic event ids make the store
 * answer replay (same place) or DuplicateEventIdError naming this cause's first id on this
 * stream: both mean "already handled".
 */
export class CommandHandler {
  constructor(
    readonly store: EventStore,
    readonly cache: StreamStateCache = new StreamStateCache(),
  ) {}

  /** The stream's state and revision: from the cache, else read and folded. */
  async load<C, E extends DomainEvent, S>(
    streamName: string,
    decider: Decider<C, E, S>,
  ): Promise<LoadedStream<S>> {
    const cached = this.cache.get<S>(streamName);
    if (cached) return cached;
    const recorded = await this.store.readStream(streamName);
    const loaded = { revision: revisionOf(recorded), state: foldRecorded(decider, recorded) };
    this.cache.set(streamName, loaded);
    return loaded;
  }

  async handle<C, E extends DomainEvent, S>(
    streamName: string,
    decider: Decider<C, E, S>,
    command: C,
    ctx: CommandContext,
    options: HandleCommandOptions = {},
  ): Promise<HandleCommandResult> {
    const maxAttempts = options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(streamName, decider);
      const events = decider.decide(command, loaded.state);
      if (events.length === 0) return { streamName, count: 0, alreadyHandled: false };
      const [outcome] = await this.store.appendMany([
        { streamName, events: toEventData(events, streamName, ctx), expected: loaded.revision },
      ]);
      const settled = this.settle(streamName, decider, loaded, events, ctx, outcome);
      if (settled) return settled;
      if (attempt >= maxAttempts)
        throw new ConcurrencyRetriesExhaustedError(streamName, attempt, {
          cause: outcome?.status === 'failed' ? outcome.error : undefined,
        });
    }
  }

  /**
   * What an append's outcome means for the command, keeping the cache right: a result, or
   * undefined when the stream moved on (decide again).
   */
  settle<C, E extends DomainEvent, S>(
    streamName: string,
    decider: Decider<C, E, S>,
    loaded: LoadedStream<S>,
    events: E[],
    ctx: CommandContext,
    outcome: AppendOutcome | undefined,
  ): HandleCommandResult | undefined {
    switch (outcome?.status) {
      case 'appended':
      case 'replay':
        this.cache.set(streamName, {
          revision: outcome.nextExpectedRevision,
          state: events.reduce(decider.evolve, loaded.state),
        });
        return outcome.status === 'replay'
          ? { streamName, count: 0, alreadyHandled: true }
          : { streamName, count: events.length, alreadyHandled: false };
      case 'failed':
        this.cache.delete(streamName);
        if (outcome.error instanceof WrongExpectedRevisionError) return undefined;
        if (isAlreadyHandled(outcome.error, streamName, ctx))
          return { streamName, count: 0, alreadyHandled: true };
        throw outcome.error;
      default:
        this.cache.delete(streamName);
        throw new Error(`append of ${streamName} answered ${JSON.stringify(outcome?.status)}`);
    }
  }
}

/** This cause's first event on this stream is already stored: the cause was handled before. */
export function isAlreadyHandled(
  error: DuplicateEventIdError | WrongExpectedRevisionError,
  streamName: string,
  ctx: CommandContext,
): boolean {
  return (
    error instanceof DuplicateEventIdError &&
    error.eventIds.includes(eventIdFor(ctx.causationId, streamName, 0))
  );
}

export function foldRecorded<C, E extends DomainEvent, S>(
  decider: Decider<C, E, S>,
  recorded: readonly RecordedEvent[],
): S {
  return fold(
    decider,
    recorded.map((r) => parseDomainEvent(r.type, r.data, r.metadata.schemaVersion) as E),
  );
}

export const revisionOf = (recorded: readonly RecordedEvent[]): number | 'no_stream' =>
  recorded[recorded.length - 1]?.revision ?? 'no_stream';

/**
 * Decisions staged for one appendMany: each stream's state moves on as commands are decided, so
 * a later command on the same stream sees the earlier ones' events. Nothing is written until the
 * caller appends `requests()`; `settle()` then keeps the cache right.
 */
export class StagedAppends {
  private readonly staged = new Map<
    string,
    { base: LoadedStream<unknown>; state: unknown; events: EventData[] }
  >();

  constructor(
    private readonly handler: CommandHandler,
    /** Requests of one unit are all-or-nothing (appendMany group). */
    readonly group: string,
  ) {}

  async decide<C, E extends DomainEvent, S>(
    streamName: string,
    decider: Decider<C, E, S>,
    command: C,
    ctx: CommandContext,
  ): Promise<HandleCommandResult> {
    let entry = this.staged.get(streamName);
    if (!entry) {
      const base = await this.handler.load(streamName, decider);
      entry = { base, state: base.state, events: [] };
      this.staged.set(streamName, entry);
    }
    const events = decider.decide(command, entry.state as S);
    const data = toEventData(events, streamName, ctx);
    entry.state = events.reduce(decider.evolve, entry.state as S);
    entry.events.push(...data);
    return { streamName, count: events.length, alreadyHandled: false };
  }

  requests(): AppendRequest[] {
    return [...this.staged]
      .filter(([, entry]) => entry.events.length > 0)
      .map(([streamName, entry]) => ({
        streamName,
        events: entry.events,
        expected: entry.base.revision,
        group: this.group,
      }));
  }

  /** After the append committed: cache what was written, or forget what conflicted. */
  settle(outcomes: readonly AppendOutcome[], committed: boolean): void {
    const byStream = new Map(outcomes.map((o) => [o.streamName, o]));
    for (const [streamName, entry] of this.staged) {
      const outcome = byStream.get(streamName);
      if (
        committed &&
        (outcome === undefined || outcome.status === 'appended' || outcome.status === 'replay')
      )
        this.handler.cache.set(streamName, {
          revision: advance(entry.base.revision, entry.events.length),
          state: entry.state,
        });
      else this.handler.cache.delete(streamName);
    }
  }

  forget(): void {
    for (const streamName of this.staged.keys()) this.handler.cache.delete(streamName);
  }
}

const defaultHandlers = new WeakMap<EventStore, CommandHandler>();

/** One cached handler per store, for callers that do not bring their own. */
export function handlerFor(store: EventStore): CommandHandler {
  let handler = defaultHandlers.get(store);
  if (!handler) {
    handler = new CommandHandler(store);
    defaultHandlers.set(store, handler);
  }
  return handler;
}

/**
 * Load the stream (or take it from the store's cache), decide, append with the expected
 * revision. A conflict means someone appended meanwhile: reload and decide again (the decision
 * is pure, so that is safe).
 */
export function handleCommand<C, E extends DomainEvent, S>(
  store: EventStore,
  streamName: string,
  decider: Decider<C, E, S>,
  command: C,
  ctx: CommandContext,
  options: HandleCommandOptions = {},
): Promise<HandleCommandResult> {
  return handlerFor(store).handle(streamName, decider, command, ctx, options);
}
