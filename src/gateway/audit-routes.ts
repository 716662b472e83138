import express, { type RequestHandler, type Router } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import {
  decodeCursor,
  encodeCursor,
  queryAuditTrail,
  type AuditQuery,
} from '../projections/audit/audit-queries';
import { invalidParameter, parse, customerIdParam } from './validate';

export const AUDIT_DEFAULT_LIMIT = 50;
export const AUDIT_MAX_LIMIT = 200;
const MAX_TYPES = 50;

const PARAMETERS = new Set(['from', 'to', 'type', 'limit', 'cursor']);

/** Same rule as the domain's customer id, which keys the rows. */
const customerId = customerIdParam;
const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 instant, e.g. 2026-01-31T12:00:00Z' })
  .optional();
const types = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((part) => part.split(',')))
  .pipe(
    z
      .array(z.string().regex(/^[A-Za-z]+$/, 'must be event type names (letters only), comma-separated'))
      .min(1)
      .max(MAX_TYPES, `must name at most ${MAX_TYPES} event types`),
  )
  .optional();
const limit = z
  .string()
  .regex(/^\d{1,4}$/, `must be an integer from 1 to ${AUDIT_MAX_LIMIT}`)
  .transform(Number)
  .pipe(
    z
      .number()
      .min(1, `must be an integer from 1 to ${AUDIT_MAX_LIMIT}`)
      .max(AUDIT_MAX_LIMIT, `must be an integer from 1 to ${AUDIT_MAX_LIMIT}`),
  )
  .optional();
const cursor = z.string().optional();

/** Reads the query string into a query, or answers 400 naming the first bad parameter. */
export function parseAuditQuery(id: string, query: Record<string, unknown>): AuditQuery {
  const unknown = Object.keys(query).find((key) => !PARAMETERS.has(key));
  if (unknown !== undefined) {
    throw invalidParameter(
      unknown,
      `Unknown query parameter "${unknown}": use ${[...PARAMETERS].join(', ')}.`,
    );
  }
  const from = parse(instant, query.from, 'from');
  const to = parse(instant, query.to, 'to');
  if (from && to && Date.parse(to) < Date.parse(from))
    throw invalidParameter('to', 'Invalid to: must not be before from.');
  const rawCursor = parse(cursor, query.cursor, 'cursor');
  const after = rawCursor === undefined ? undefined : decodeCursor(rawCursor);
  if (after === null)
    throw invalidParameter('cursor', 'Invalid cursor: pass the nextCursor of a previous page, unchanged.');
  return {
    customerId: id,
    from: from ? new Date(from) : undefined,
    to: to ? new Date(to) : undefined,
    types: parse(types, query.type, 'type'),
    limit: parse(limit, query.limit, 'limit') ?? AUDIT_DEFAULT_LIMIT,
    after,
  };
}

/**
 * `GET /v1/customers/{customerId}/audit`: the customer's audit trail, oldest first.
 * `from` (inclusive) and `to` (exclusive) are on occurred time; `type` is one or more event
 * types, comma-separated; `limit` 1..200 (50); `cursor` is the previous page's `nextCursor`.
 * An unknown customer has an empty trail, not a 404: the trail outlives the customer.
 */
export function auditRouter(options: {
  pool: Pool;
  /** Authorisation (scope `audit:read`). */
  guard: RequestHandler;
}): Router {
  const router = express.Router();

  router.get('/v1/customers/:customerId/audit', options.guard, async (req, res) => {
    const id = parse(customerId, req.params.customerId, 'customerId');
    const query = parseAuditQuery(id, req.query as Record<string, unknown>);
    const page = await queryAuditTrail(options.pool, query);
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ items: page.items, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null });
  });

  return router;
}
