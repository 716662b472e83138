import { busEventSchema, type BusEvent } from '../../bus/port';
import { summarise, type AuditChange } from './summarise';

/** One audit row: who/what/when/why of one domain event. */
export interface AuditEntry {
  eventId: string;
  customerId: string;
  subscriptionId: string | null;
  eventType: string;
  streamName: string;
  streamRevision: number;
  /** Global log position (a bigint, as a string). */
  position: string;
  summary: string;
  changes: AuditChange[];
  /** What caused it: stripe | portal | saga | operator (metadata.source), or stripe when only a Stripe event id is known. */
  source: string | null;
  /** The portal session, saga or operator behind it, when the metadata names one. */
  sourceRef: string | null;
  stripeEventId: string | null;
  stripeEventType: string | null;
  correlationId: string | null;
  causationId: string | null;
  schemaVersion: number;
  /** Business time (ISO-8601, ms): metadata.occurredAt, else data.occurredAt, else recordedAt. */
  occurredAt: string;
  recordedAt: string;
}

export type AuditEntryResult = { ok: true; entry: AuditEntry } | { ok: false; reason: string };

/** Metadata keys that name who stood behind an event, first found wins. */
const SOURCE_REF_KEYS = ['sourceRef', 'portalSessionId', 'sagaId', 'operatorId', 'operator'] as const;

const text = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value : null;

function instant(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function subscriptionOf(event: BusEvent): string | null {
  return text(event.data.subscriptionId) ?? /^subscription-(sub_\w+)$/.exec(event.streamName)?.[1] ?? null;
}

/**
 * The audit row of a bus event. Pure. Only an envelope that cannot be keyed, ordered or
 * dated is refused (with the reason); any data, known or not, makes a row.
 */
export function auditEntryOf(raw: unknown): AuditEntryResult {
  const parsed = busEventSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    };
  }
  const event = parsed.data;
  const recordedAt = instant(event.recordedAt);
  if (!recordedAt) return { ok: false, reason: `recordedAt: not an instant (${event.recordedAt})` };
  const { metadata, data } = event;
  const stripeEventId = text(metadata.stripeEventId) ?? text(data.stripeEventId);
  const { summary, changes } = summarise(event);
  return {
    ok: true,
    entry: {
      eventId: event.eventId,
      customerId: event.customerId,
      subscriptionId: subscriptionOf(event),
      eventType: event.type,
      streamName: event.streamName,
      streamRevision: event.revision,
      position: event.position,
      summary,
      changes,
      source: text(metadata.source) ?? (stripeEventId ? 'stripe' : null),
      sourceRef: SOURCE_REF_KEYS.map((key) => text(metadata[key])).find((ref) => ref !== null) ?? null,
      stripeEventId,
      stripeEventType: text(metadata.stripeEventType),
      correlationId: text(metadata.correlationId),
      causationId: text(metadata.causationId),
      schemaVersion: metadata.schemaVersion,
      occurredAt: instant(metadata.occurredAt) ?? instant(data.occurredAt) ?? recordedAt,
      recordedAt,
    },
  };
}
