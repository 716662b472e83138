import { parseDomainEvent, schemaVersions, type DomainEvent } from '../aggregates/events';
import {
  WrongExpectedRevisionError,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type RecordedEvent,
} from '../eventstore/port';
import { fold, type Decider } from '../shared/decider';
import { eventIdFor } from './event-id';

/** Why a command is being handled: becomes every event's metadata, and its idempotency key. */
export interface CommandContext {
  /** What caused the command (the Stripe event id for Stripe): a second command with the same cause on the same stream writes nothing. */
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

export const revisionAfter = (recorded: readonly RecordedEvent[]): ExpectedRevision => {
  const last = recorded[recorded.length - 1];
  return last === undefined ? 'no_stream' : last.revision;
};

/**
 * Load the stream, fold, decide, append with the expected revision. A conflict means someone
 * appended meanwhile: reload and decide again (the decision is pure, so that is safe).
 */
export async function handleCommand<C, E extends DomainEvent, S>(
  store: EventStore,
  streamName: string,
  decider: Decider<C, E, S>,
  command: C,
  ctx: CommandContext,
  options: HandleCommandOptions = {},
): Promise<HandleCommandResult> {
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const recorded = await store.readStream(streamName);
    if (recorded.some((r) => r.metadata.causationId === ctx.causationId))
      return { streamName, count: 0, alreadyHandled: true };
    const state = fold(
      decider,
      recorded.map((r) => parseDomainEvent(r.type, r.data, r.metadata.schemaVersion) as E),
    );
    const events = decider.decide(command, state);
    if (events.length === 0) return { streamName, count: 0, alreadyHandled: false };
    try {
      await store.appendToStream(streamName, toEventData(events, streamName, ctx), revisionAfter(recorded));
      return { streamName, count: events.length, alreadyHandled: false };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      if (attempt >= maxAttempts)
        throw new ConcurrencyRetriesExhaustedError(streamName, attempt, { cause: error });
    }
  }
}
