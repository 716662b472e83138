import { Redis } from 'ioredis';
import { toBusEvent } from '../../src/bus/port';
import { readLedgerIdentity } from '../../src/infra/postgres/ledger-identity';
import {
  entitlementsKeyPrefix,
  entitlementsReadModel,
  type EntitlementsReadModel,
} from '../../src/projections/entitlements/entitlements-read-model';
import { entitlementsQueries, type EntitlementsQueries } from '../../src/projections/entitlements/queries';
import { silentLogger } from '../../src/shared/logger';
import { startTestSystem, type TestSystem } from '../support/app';
import {
  customerCreatedEvent,
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
} from '../support/stripe-fixtures';

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
const TIERS = ['basic', 'premium', 'enterprise', 'unlimited'];

describe('rebuild entitlements from the event log, in place, while live', () => {
  let system: TestSystem;
  let redis: Redis;
  let prefix: string;
  /** The model as `billing-ledger rebuild entitlements` opens it, beside the system's live consumer. */
  let model: EntitlementsReadModel;
  let queries: EntitlementsQueries;

  beforeAll(async () => {
    system = await startTestSystem();
    redis = new Redis(system.config.REDIS_URL);
    prefix = entitlementsKeyPrefix(system.namespace);
    const wiring = { redis, store: system.store, catalog: system.catalog, logger: silentLogger, prefix };
    model = entitlementsReadModel({ ...wiring, logIdentity: () => readLedgerIdentity(system.pool) });
    queries = entitlementsQueries(wiring);
  });
  afterAll(async () => {
    redis?.disconnect();
    await system?.stop();
  });

  const customers = Array.from({ length: 12 }, (_, i) => `cus_Rb${i}`);
  let n = 0;

  function subscriptionEvent(customer: string, i: number, tier: string, update = false) {
    const spec = {
      id: `sub_${customer.slice(4)}`,
      customer,
      created: NOW - 10 * DAY,
      items: [{ id: `si_${customer.slice(4)}`, price: { id: `price_${tier}_monthly` } }],
    };
    const options = { id: `evt_rb_${++n}`, created: NOW - 10 * DAY + i * 60 + (update ? 3600 : 0) };
    return update ? subscriptionUpdatedEvent(spec, options) : subscriptionCreatedEvent(spec, options);
  }

  async function documents(): Promise<Record<string, string | null>> {
    const values = await Promise.all(customers.map((c) => redis.hget(`${prefix}cust:${c}`, 'd')));
    return Object.fromEntries(customers.map((c, i) => [c, values[i] ?? null]));
  }

  it('restores every customer after the model was damaged, and keeps events that arrive during the rebuild', async () => {
    for (const [i, customer] of customers.entries()) {
      await system.postWebhook(
        customerCreatedEvent(
          { id: customer, metadata: { user_id: `u_rb_${i}` } },
          { id: `evt_rb_${++n}`, created: NOW - 11 * DAY },
        ),
      );
      await system.postWebhook(subscriptionEvent(customer, i, TIERS[i % 4] as string));
    }
    await system.settle();
    const healthy = await documents();
    expect(Object.values(healthy).every((doc) => doc !== null)).toBe(true);

    // Damage: one answer overwritten, one customer's keys gone, one state rolled back to nothing.
    await redis.hset(`${prefix}cust:cus_Rb0`, 'd', '{"tier":"unlimited","bogus":true}');
    await redis.del(`${prefix}cust:cus_Rb1`);
    await redis.hset(`${prefix}cust:cus_Rb2`, {
      p: '1',
      s: JSON.stringify(model.projection.initial('cus_Rb2')),
    });

    // Live traffic during the rebuild, after it folded the log and before it swaps: upgrades for
    // half the customers, applied by the live consumer, so those customers are ahead of the fold.
    const progress: string[] = [];
    const result = await model.rebuild({
      onProgress: (p) => progress.push(p.phase),
      onFolded: async () => {
        for (const [i, customer] of customers.entries()) {
          if (i % 2 === 0) await system.postWebhook(subscriptionEvent(customer, i, 'unlimited', true));
        }
        await system.settle();
      },
    });
    expect(result.mode).toBe('in-place');
    expect(result.customers).toBe(customers.length);
    expect(result.caughtUp).toBe(customers.length / 2);
    expect(progress).toEqual(expect.arrayContaining(['fold', 'write']));
    // Reads kept answering: the damaged-but-present answers were there throughout, and now are right.
    await system.settle();

    // Every answer equals the fold of that customer's whole log, the damaged ones included.
    for (const customer of customers) {
      expect(await queries.getDocument(customer)).toEqual(await foldFromLog(system, model, customer));
    }
    const after = await documents();
    expect(JSON.parse(after.cus_Rb1 as string)).toMatchObject({ tier: 'premium', userId: 'u_rb_1' });
    expect(JSON.parse(after.cus_Rb0 as string)).toMatchObject({ tier: 'unlimited' });
    expect(JSON.parse(after.cus_Rb0 as string)).not.toHaveProperty('bogus');
    expect((await system.get('/v1/users/u_rb_1/entitlements')).status).toBe(200);
  });

  it('rebuilds from scratch, by itself, a store that lost its marker (emptied Redis)', async () => {
    const keys = await redis.keys(`${prefix}*`);
    await redis.del(...keys);
    const result = await model.rebuild();
    expect(result).toMatchObject({ mode: 'from-scratch', customers: customers.length });
    for (const customer of customers) {
      expect(await queries.getDocument(customer)).toEqual(await foldFromLog(system, model, customer));
    }
    // The live consumer writes again on the rebuilt store.
    await system.postWebhook(subscriptionEvent('cus_Rb3', 3, 'basic', true));
    await system.settle();
    expect(await queries.getDocument('cus_Rb3')).toMatchObject({ tier: 'basic' });
  });
});

/** What the model should say: the customer's whole log folded by the same projection. */
async function foldFromLog(system: TestSystem, model: EntitlementsReadModel, customerId: string) {
  const events = (await system.store.readAll({ maxCount: 1000 })).filter(
    (e) => e.data.customerId === customerId,
  );
  let state = model.projection.initial(customerId);
  for (const event of events) state = model.projection.apply(state, toBusEvent(event));
  return model.projection.render(state, events[events.length - 1]!.position);
}
