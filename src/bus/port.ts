import { z } from 'zod';
import type { RecordedEvent } from '../eventstore/port';

/**
 * The event bus port: the relay publishes committed events; consumer groups read them.
 * Keyed by customer id, so one customer's events stay in order (ARCHITECTURE rule 5).
 */

export const busEventSchema = z.object({
  eventId: z.string().uuid(),
  type: z.string().min(1),
  streamName: z.string().min(1),
  revision: z.number().int().nonnegative(),
  position: z.string().regex(/^\d+$/),
  customerId: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()).and(z.object({ schemaVersion: z.number().int().positive() })),
  recordedAt: z.string(),
});

export type BusEvent = z.output<typeof busEventSchema>;

export interface DeadLetter {
  raw: string;
  reason: string;
  partition?: number;
  offset?: string;
}

export interface EventPublisher {
  /** Publishes in order; resolves once the broker has acknowledged every message. */
  publish(events: BusEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerHandlers {
  /** Applies a batch; throwing means "infrastructure failed": the batch is retried. */
  handle(events: BusEvent[]): Promise<void>;
  /** A message that cannot be parsed: recorded with its reason, then skipped. */
  deadLetter(letter: DeadLetter): Promise<void>;
}

export interface EventConsumer {
  start(handlers: ConsumerHandlers): Promise<void>;
  stop(): Promise<void>;
}

export interface EventBus {
  publisher(): EventPublisher;
}

export function toBusEvent(event: RecordedEvent): BusEvent {
  const customerId = event.data.customerId;
  if (typeof customerId !== 'string' || customerId.length === 0) {
    throw new Error(`Event ${event.id} (${event.type}) has no customerId: it cannot be keyed`);
  }
  return {
    eventId: event.id,
    type: event.type,
    streamName: event.streamName,
    revision: event.revision,
    position: event.position.toString(),
    customerId,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  };
}

/** Parses one raw bus message; returns the reason instead of throwing. */
export function parseBusEvent(raw: string): { ok: true; event: BusEvent } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'message is not JSON' };
  }
  const result = busEventSchema.safeParse(json);
  if (!result.success) {
    return {
      ok: false,
      reason: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    };
  }
  return { ok: true, event: result.data };
}
