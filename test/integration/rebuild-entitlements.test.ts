import { Redis } from 'ioredis';
import { rebuildEntitlements } from '../../src/projections/entitlements/rebuild-entitlements';
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

  beforeAll(async () => {
    system = await startTestSystem();
    redis = new Redis(system.config.REDIS_URL);
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
    const keys = customers.map((c) => `${system.namespace}:ent:doc:${c}`);
    const values = await redis.mget(...keys);
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
    await redis.set(`${system.namespace}:ent:doc:cus_Rb0`, '{"tier":"unlimited","bogus":true}');
    await redis.del(`${system.namespace}:ent:doc:cus_Rb1`, `${system.namespace}:ent:state:cus_Rb1`);
    await redis.set(
      `${system.namespace}:ent:state:cus_Rb2`,
      JSON.stringify({ position: '0', state: system.accessProjection.initial('cus_Rb2') }),
    );

    // Live traffic during the rebuild, after it folded the log and before it swaps: upgrades for
    // half the customers, applied by the live consumer, so those customers are ahead of the fold.
    const result = await rebuildEntitlements({
      store: system.store,
      live: system.entitlements,
      projection: system.accessProjection,
      onFolded: async () => {
        for (const [i, customer] of customers.entries()) {
          if (i % 2 === 0) await system.postWebhook(subscriptionEvent(customer, i, 'unlimited', true));
        }
        await system.settle();
      },
    });
    expect(result.customers).toBe(customers.length);
    expect(result.caughtUp).toBe(customers.length / 2);
    // Reads kept answering: the damaged-but-present answers were there throughout, and now are right.
    await system.settle();

    // Every answer equals the fold of that customer's whole log, the damaged ones included.
    for (const customer of customers) {
      const stored = await system.entitlements.getDocument(customer);
      const folded = await system.entitlements.getState(customer);
      expect(folded).not.toBeNull();
      const fromLog = await foldFromLog(system, customer);
      expect(stored).toEqual(fromLog);
    }
    const after = await documents();
    expect(JSON.parse(after.cus_Rb1 as string)).toMatchObject({ tier: 'premium', userId: 'u_rb_1' });
    expect(JSON.parse(after.cus_Rb0 as string)).toMatchObject({ tier: 'unlimited' });
    expect(JSON.parse(after.cus_Rb0 as string)).not.toHaveProperty('bogus');
    expect((await system.get('/v1/users/u_rb_1/entitlements')).status).toBe(200);
  });
});

/** What the model should say: the customer's whole log folded by the same projection. */
async function foldFromLog(system: TestSystem, customerId: string) {
  const events = (await system.store.readAll({ maxCount: 1000 })).filter(
    (e) => e.data.customerId === customerId,
  );
  let state = system.accessProjection.initial(customerId);
  const { toBusEvent } = await import('../../src/bus/port');
  for (const event of events) state = system.accessProjection.apply(state, toBusEvent(event));
  return system.accessProjection.render(state, events[events.length - 1]!.position);
}
