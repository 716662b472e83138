import type { Pool } from 'pg';
import { z } from 'zod';
import { AUDIT_TABLE, assertIdentifier } from './postgres-audit-log';
import type { AuditChange } from './summarise';

/** Where a page ended: the last row's (occurred_at, log_position). */
export interface AuditCursor {
  occurredAt: string;
  position: string;
}

export interface AuditQuery {
  customerId: string;
  /** Inclusive, on occurred time. */
  from?: Date;
  /** Exclusive, on occurred time. */
  to?: Date;
  types?: readonly string[];
  limit: number;
  after?: AuditCursor;
}

export interface AuditItem {
  eventId: string;
  type: string;
  customerId: string;
  subscriptionId: string | null;
  summary: string;
  changes: AuditChange[];
  source: {
    kind: string | null;
    ref: string | null;
    stripeEventId: string | null;
    stripeEventType: string | null;
  };
  correlationId: string | null;
  causationId: string | null;
  occurredAt: string;
  recordedAt: string;
  stream: { name: string; revision: number };
  position: string;
}

export interface AuditPage {
  items: AuditItem[];
  nextCursor: AuditCursor | null;
}

interface AuditRow {
  event_id: string;
  customer_id: string;
  subscription_id: string | null;
  event_type: string;
  stream_name: string;
  stream_revision: number;
  log_position: string;
  summary: string;
  changes: AuditChange[];
  source: string | null;
  source_ref: string | null;
  stripe_event_id: string | null;
  stripe_event_type: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  occurred_at: Date;
  recorded_at: Date;
}

const itemOf = (row: AuditRow): AuditItem => ({
  eventId: row.event_id,
  type: row.event_type,
  customerId: row.customer_id,
  subscriptionId: row.subscription_id,
  summary: row.summary,
  changes: row.changes,
  source: {
    kind: row.source,
    ref: row.source_ref,
    stripeEventId: row.stripe_event_id,
    stripeEventType: row.stripe_event_type,
  },
  correlationId: row.correlation_id,
  causationId: row.causation_id,
  occurredAt: row.occurred_at.toISOString(),
  recordedAt: row.recorded_at.toISOString(),
  stream: { name: row.stream_name, revision: row.stream_revision },
  position: row.log_position,
});

/**
 * One page of a customer's trail, ascending by (occurred time, log position). Keyset
 * pagination: a page starts strictly after the cursor, so pages never overlap, and rows added
 * meanwhile at later times show up on later pages. Occurred times are stored at millisecond
 * precision (see audit-entry), so the cursor's instant round-trips exactly.
 */
export async function queryAuditTrail(
  pool: Pool,
  query: AuditQuery,
  table = AUDIT_TABLE,
): Promise<AuditPage> {
  const { rows } = await pool.query<AuditRow>(
    `SELECT * FROM ${assertIdentifier(table)}
      WHERE customer_id = $1
        AND ($2::timestamptz IS NULL OR occurred_at >= $2::timestamptz)
        AND ($3::timestamptz IS NULL OR occurred_at < $3::timestamptz)
        AND ($4::text[] IS NULL OR event_type = ANY ($4::text[]))
        AND ($5::timestamptz IS NULL OR (occurred_at, log_position) > ($5::timestamptz, $6::bigint))
      ORDER BY occurred_at, log_position
      LIMIT $7`,
    [
      query.customerId,
      query.from?.toISOString() ?? null,
      query.to?.toISOString() ?? null,
      query.types && query.types.length > 0 ? query.types : null,
      query.after?.occurredAt ?? null,
      query.after?.position ?? null,
      query.limit + 1,
    ],
  );
  const page = rows.slice(0, query.limit).map(itemOf);
  const last = page[page.length - 1];
  return {
    items: page,
    nextCursor:
      rows.length > query.limit && last ? { occurredAt: last.occurredAt, position: last.position } : null,
  };
}

const MAX_POSITION = 2n ** 63n - 1n;
const cursorSchema = z
  .object({
    o: z.iso.datetime(),
    p: z
      .string()
      .regex(/^\d{1,19}$/)
      .refine((p) => BigInt(p) <= MAX_POSITION),
  })
  .strict();

/** Opaque to clients: base64url of the last row's (occurred_at, position). */
export function encodeCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify({ o: cursor.occurredAt, p: cursor.position })).toString('base64url');
}

/** The cursor, or null when the text is not one this API gave out. */
export function decodeCursor(text: string): AuditCursor | null {
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(text)) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = cursorSchema.safeParse(json);
  return parsed.success ? { occurredAt: parsed.data.o, position: parsed.data.p } : null;
}
