import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import type { PlanCatalog } from '../catalog/catalog';
import {
  asOf,
  entitlementsETag,
  featureAccess,
  type Entitlements,
  type EntitlementsQueries,
} from '../projections/entitlements/queries';
import { HttpError } from './http-error';
import { parse, customerIdParam } from './validate';

export type EntitlementsReader = Pick<EntitlementsQueries, 'getDocument' | 'customerIdForUser'>;

/** Answers `?at=`: the entitlements as they were at an instant, folded from the log. */
export type PointInTimeReader = EntitlementsQueries['pointInTime'];

const customerId = customerIdParam;
const userId = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'must be 1-128 characters of letters, digits and _ . : @ -');
const feature = z.string().regex(/^[a-z0-9_]{1,64}$/, 'must be a feature name (a-z, 0-9, _)');
const query = z
  .object({
    at: z.iso
      .datetime({ offset: true, message: 'must be an ISO-8601 instant, e.g. 2026-01-31T12:00:00Z' })
      .optional(),
  })
  .strict();

export function entitlementsRouter(options: {
  reader: EntitlementsReader;
  pointInTime?: PointInTimeReader;
  catalog: PlanCatalog;
  /** Authorisation (scope `entitlements:read`). */
  guard: RequestHandler;
  clock?: () => Date;
}): Router {
  const router = express.Router();
  const clock = options.clock ?? (() => new Date());

  /** The answer with the clock applied, and its ETag (which carries the clock's phase). */
  async function load(id: string, rawQuery: unknown): Promise<{ doc: Entitlements; etag: string }> {
    const { at } = parse(query, rawQuery, 'query');
    if (at) {
      if (!options.pointInTime)
        throw new HttpError(501, 'ENTITLEMENTS.AT_UNSUPPORTED', 'Point-in-time answers are not available.');
      const instant = new Date(at);
      const doc = await options.pointInTime(id, instant);
      if (!doc) throw new HttpError(404, 'CUSTOMER.NOT_FOUND', `No customer ${id} at ${at}.`);
      return { doc: asOf(doc, instant), etag: entitlementsETag(doc, instant) };
    }
    const doc = await options.reader.getDocument(id);
    if (!doc) throw new HttpError(404, 'CUSTOMER.NOT_FOUND', `No customer ${id}.`);
    const now = clock();
    return { doc: asOf(doc, now), etag: entitlementsETag(doc, now) };
  }

  function send(req: express.Request, res: express.Response, etag: string, body: unknown) {
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, no-cache');
    if (req.header('if-none-match') === etag && !req.query.at) {
      res.status(304).end();
      return;
    }
    res.json(body);
  }

  router.get('/v1/customers/:customerId/entitlements', options.guard, async (req, res) => {
    const id = parse(customerId, req.params.customerId, 'customerId');
    const { doc, etag } = await load(id, req.query);
    send(req, res, etag, doc);
  });

  router.get('/v1/customers/:customerId/entitlements/:feature', options.guard, async (req, res) => {
    const id = parse(customerId, req.params.customerId, 'customerId');
    const name = parse(feature, req.params.feature, 'feature');
    const { doc, etag } = await load(id, req.query);
    send(req, res, etag, featureAccess(options.catalog, doc, name));
  });

  router.get('/v1/users/:userId/entitlements', options.guard, async (req, res) => {
    const user = parse(userId, req.params.userId, 'userId');
    const id = await options.reader.customerIdForUser(user);
    if (!id) throw new HttpError(404, 'USER.NOT_FOUND', `No customer is linked to user ${user}.`);
    const { doc, etag } = await load(id, req.query);
    send(req, res, etag, doc);
  });

  return router;
}
