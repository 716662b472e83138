import type { Server } from 'node:http';
import { loadCatalog } from '../../src/catalog/catalog';
import { createGatewayApp } from '../../src/gateway/app';
import { entitlementsRouter } from '../../src/gateway/entitlements-routes';
import type { Entitlements, EntitlementsQueries } from '../../src/projections/entitlements/queries';
import { silentLogger } from '../../src/shared/logger';

const catalog = loadCatalog();
const premium = catalog.tiers.premium!;

function doc(overrides: Partial<Entitlements>): Entitlements {
  return {
    customerId: 'cus_E',
    userId: 'u_e',
    tier: 'premium',
    status: 'active',
    features: [...premium.features].sort(),
    limits: premium.limits,
    trialEndsAt: null,
    accessUntil: null,
    reason: 'active_subscription',
    subscriptionId: 'sub_E',
    position: '42',
    ...overrides,
  };
}

describe('entitlements answers: the ETag carries the clock phase', () => {
  let server: Server;
  let url: string;
  let now = new Date('2026-03-01T00:00:00Z');
  let stored: Entitlements = doc({});

  beforeAll(async () => {
    const queries: EntitlementsQueries = {
      getDocument: async (id) => (id === stored.customerId ? stored : null),
      customerIdForUser: async (user) => (user === stored.userId ? stored.customerId : null),
      pointInTime: async () => stored,
    };
    const app = createGatewayApp(
      [
        entitlementsRouter({
          reader: queries,
          pointInTime: queries.pointInTime,
          catalog,
          guard: (_req, _res, next) => next(),
          clock: () => now,
        }),
      ],
      silentLogger,
    );
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => server?.close());

  const get = (path: string, etag?: string) =>
    fetch(`${url}${path}`, { headers: etag ? { 'if-none-match': etag } : {} });

  it('a client revalidating after accessUntil passed gets the new answer, not 304 on its premium copy', async () => {
    now = new Date('2026-03-01T00:00:00Z');
    stored = doc({ reason: 'cancellation_scheduled_grace', accessUntil: '2026-03-10T00:00:00.000Z' });

    const first = await get('/v1/customers/cus_E/entitlements');
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toBe('"cus_E@42;open"');
    expect(await first.json()).toMatchObject({ tier: 'premium', reason: 'cancellation_scheduled_grace' });

    // Same position, same side of the dates: unchanged.
    now = new Date('2026-03-09T23:59:59Z');
    expect((await get('/v1/customers/cus_E/entitlements', etag)).status).toBe(304);
    expect((await get('/v1/customers/cus_E/entitlements/advanced_api', etag)).status).toBe(304);
    expect((await get('/v1/users/u_e/entitlements', etag)).status).toBe(304);

    // The clock passes accessUntil; nothing new was written, but the answer changed.
    now = new Date('2026-03-10T00:00:01Z');
    const after = await get('/v1/customers/cus_E/entitlements', etag);
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).toBe('"cus_E@42;access-ended"');
    expect(await after.json()).toMatchObject({ tier: null, features: [], reason: 'access_period_ended' });
    const feature = await get('/v1/customers/cus_E/entitlements/advanced_api', etag);
    expect(feature.status).toBe(200);
    expect(await feature.json()).toMatchObject({ allowed: false, reason: 'access_period_ended' });

    // And the new validator holds from then on.
    expect((await get('/v1/customers/cus_E/entitlements', after.headers.get('etag')!)).status).toBe(304);
  });

  it('the trial end is a phase boundary too', async () => {
    now = new Date('2026-03-01T00:00:00Z');
    stored = doc({ status: 'trialing', reason: 'trial', trialEndsAt: '2026-03-05T00:00:00.000Z' });
    const during = await get('/v1/customers/cus_E/entitlements');
    expect(during.headers.get('etag')).toBe('"cus_E@42;open"');
    now = new Date('2026-03-06T00:00:00Z');
    const revalidated = await get('/v1/customers/cus_E/entitlements', during.headers.get('etag')!);
    expect(revalidated.status).toBe(200);
    expect(revalidated.headers.get('etag')).toBe('"cus_E@42;trial-ended"');
  });

  it('a new position changes the ETag; ?at= answers never 304', async () => {
    now = new Date('2026-03-01T00:00:00Z');
    stored = doc({});
    const etag = (await get('/v1/customers/cus_E/entitlements')).headers.get('etag')!;
    stored = doc({ position: '43' });
    const moved = await get('/v1/customers/cus_E/entitlements', etag);
    expect(moved.status).toBe(200);
    expect(moved.headers.get('etag')).toBe('"cus_E@43;open"');
    const at = await get('/v1/customers/cus_E/entitlements?at=2026-02-01T00:00:00Z', '"cus_E@43;open"');
    expect(at.status).toBe(200);
  });
});
