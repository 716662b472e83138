import { Redis } from 'ioredis';
import {
  customerCreatedEvent,
  customerDeletedEvent,
  invoicePaymentFailedEvent,
  subscriptionCreatedEvent,
  subscriptionDeletedEvent,
  subscriptionUpdatedEvent,
  type SubscriptionSpec,
} from '../support/stripe-fixtures';
import { startTestSystem, type TestSystem } from '../support/app';

/**
 * Feature access through the real pipeline (webhook → inbox → aggregates → PostgreSQL event
 * store → relay → Kafka → Redis → query API), one customer per scenario. Stripe times are
 * around the real clock, because the API applies the clock to grace periods.
 */

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
const T = NOW - 20 * DAY; // the scenarios start 20 days ago
const iso = (s: number) => new Date(s * 1000).toISOString();

type Entitlements = {
  tier: string | null;
  status: string;
  features: string[];
  limits: Record<string, number | null>;
  trialEndsAt: string | null;
  accessUntil: string | null;
  reason: string;
  userId: string | null;
  position: string;
};

const price = (tier: string, interval: 'month' | 'year' = 'month') => ({
  id: `price_${tier}_${interval === 'month' ? 'monthly' : 'yearly'}`,
  interval,
});

describe('feature access through the real pipeline', () => {
  let system: TestSystem;
  let n = 0;

  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function deliver(...events: { id: string }[]) {
    for (const event of events) {
      const response = await system.postWebhook(event);
      expect(response.status).toBe(200);
    }
    await system.settle();
  }

  async function entitlements(customer: string, query = ''): Promise<Entitlements> {
    const response = await system.get(`/v1/customers/${customer}/entitlements${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as Entitlements;
  }

  function sub(customer: string, spec: SubscriptionSpec): SubscriptionSpec {
    return {
      id: `sub_${customer.slice(4)}`,
      customer,
      created: T,
      currentPeriodStart: T,
      currentPeriodEnd: T + 30 * DAY,
      ...spec,
    };
  }

  const at = (seconds: number) => ({ id: `evt_fa_${++n}_${seconds}`, created: seconds });

  it('trial start: the trial gets its tier minus the trial restrictions, with the trial end', async () => {
    const c = 'cus_FaTrial';
    await deliver(
      subscriptionCreatedEvent(
        sub(c, {
          status: 'trialing',
          trialStart: T,
          trialEnd: NOW + 10 * DAY,
          items: [{ price: price('enterprise') }],
        }),
        at(T),
      ),
    );
    const e = await entitlements(c);
    expect(e).toMatchObject({
      tier: 'enterprise',
      status: 'trialing',
      reason: 'trial',
      trialEndsAt: iso(NOW + 10 * DAY),
    });
    expect(e.features).not.toContain('dedicated_support');
    expect(e.limits).toEqual({ api_calls_per_day: 1000, storage_gb: 5, users: 2 });
  });

  it('trial converted: full tier features and limits', async () => {
    const c = 'cus_FaConvert';
    const trialEnd = T + 14 * DAY;
    await deliver(
      subscriptionCreatedEvent(
        sub(c, { status: 'trialing', trialStart: T, trialEnd, items: [{ price: price('enterprise') }] }),
        at(T),
      ),
      subscriptionUpdatedEvent(
        sub(c, {
          status: 'active',
          trialStart: T,
          trialEnd,
          currentPeriodStart: trialEnd,
          currentPeriodEnd: trialEnd + 30 * DAY,
          items: [{ price: price('enterprise') }],
        }),
        at(trialEnd),
      ),
    );
    const e = await entitlements(c);
    expect(e).toMatchObject({ tier: 'enterprise', status: 'active', reason: 'active_subscription' });
    expect(e.features).toContain('dedicated_support');
    expect(e.limits).toEqual({ api_calls_per_day: null, storage_gb: 500, users: 50 });
  });

  it('trial ended unpaid: access falls back to nothing, saying trial_ended', async () => {
    const c = 'cus_FaTrialEnd';
    const trialEnd = T + 14 * DAY;
    await deliver(
      subscriptionCreatedEvent(
        sub(c, { status: 'trialing', trialStart: T, trialEnd, currentPeriodEnd: trialEnd }),
        at(T),
      ),
      subscriptionDeletedEvent(
        sub(c, {
          status: 'canceled',
          trialStart: T,
          trialEnd,
          currentPeriodEnd: trialEnd,
          canceledAt: trialEnd,
          endedAt: trialEnd,
        }),
        at(trialEnd),
      ),
    );
    expect(await entitlements(c)).toMatchObject({
      tier: null,
      features: [],
      status: 'canceled',
      reason: 'trial_ended',
    });
  });

  it('upgrade then downgrade: features and limits follow the plan', async () => {
    const c = 'cus_FaPlans';
    await deliver(
      subscriptionCreatedEvent(sub(c, { items: [{ id: 'si_FaPlans', price: price('basic') }] }), at(T)),
    );
    expect(await entitlements(c)).toMatchObject({
      tier: 'basic',
      limits: { api_calls_per_day: 1000, storage_gb: 5, users: 1 },
    });

    await deliver(
      subscriptionUpdatedEvent(
        sub(c, { items: [{ id: 'si_FaPlans', price: price('premium') }] }),
        at(T + DAY),
      ),
    );
    const up = await entitlements(c);
    expect(up).toMatchObject({
      tier: 'premium',
      limits: { api_calls_per_day: 10000, storage_gb: 50, users: 5 },
    });
    expect(up.features).toContain('advanced_api');

    await deliver(
      subscriptionUpdatedEvent(
        sub(c, { items: [{ id: 'si_FaPlans', price: price('basic') }] }),
        at(T + 2 * DAY),
      ),
    );
    const down = await entitlements(c);
    expect(down).toMatchObject({
      tier: 'basic',
      limits: { api_calls_per_day: 1000, storage_gb: 5, users: 1 },
    });
    expect(down.features).not.toContain('advanced_api');
  });

  it('cancellation scheduled: access until the period ends, then gone', async () => {
    const c = 'cus_FaCancel';
    const periodEnd = NOW + 10 * DAY;
    await deliver(
      subscriptionCreatedEvent(
        sub(c, { currentPeriodEnd: periodEnd, items: [{ price: price('premium') }] }),
        at(T),
      ),
      subscriptionUpdatedEvent(
        sub(c, {
          currentPeriodEnd: periodEnd,
          cancelAtPeriodEnd: true,
          items: [{ price: price('premium') }],
        }),
        at(T + DAY),
      ),
    );
    expect(await entitlements(c)).toMatchObject({
      tier: 'premium',
      reason: 'cancellation_scheduled_grace',
      accessUntil: iso(periodEnd),
    });

    await deliver(
      subscriptionDeletedEvent(
        sub(c, {
          status: 'canceled',
          currentPeriodEnd: periodEnd,
          cancelAtPeriodEnd: true,
          canceledAt: periodEnd,
          endedAt: periodEnd,
          cancellationReason: 'cancellation_requested',
          items: [{ price: price('premium') }],
        }),
        at(periodEnd),
      ),
    );
    expect(await entitlements(c)).toMatchObject({
      tier: null,
      features: [],
      reason: 'subscription_canceled',
    });
  });

  it('payment failed: past_due keeps access with a reason', async () => {
    const c = 'cus_FaPastDue';
    const s = sub(c, { items: [{ price: price('premium') }] });
    await deliver(
      subscriptionCreatedEvent(s, at(T)),
      invoicePaymentFailedEvent(
        {
          id: 'in_FaPastDue',
          customer: c,
          subscription: s.id,
          attemptCount: 1,
          nextPaymentAttempt: NOW + 3 * DAY,
        },
        at(T + 30 * DAY - 100),
      ),
      subscriptionUpdatedEvent({ ...s, status: 'past_due' }, at(T + 30 * DAY - 50)),
    );
    const e = await entitlements(c);
    expect(e).toMatchObject({ tier: 'premium', status: 'past_due', reason: 'payment_past_due_grace' });
    const feature = await system.get(`/v1/customers/${c}/entitlements/advanced_api`);
    expect(await feature.json()).toEqual({
      feature: 'advanced_api',
      allowed: true,
      reason: 'payment_past_due_grace',
      limit: null,
    });
  });

  it('dunning exhausted: access removed', async () => {
    const c = 'cus_FaDunning';
    const s = sub(c, { items: [{ price: price('premium') }] });
    await deliver(
      subscriptionCreatedEvent(s, at(T)),
      subscriptionUpdatedEvent({ ...s, status: 'past_due' }, at(T + DAY)),
      subscriptionUpdatedEvent({ ...s, status: 'unpaid' }, at(T + 10 * DAY)),
    );
    expect(await entitlements(c)).toMatchObject({
      tier: null,
      features: [],
      status: 'unpaid',
      reason: 'dunning_exhausted',
    });
    const feature = await system.get(`/v1/customers/${c}/entitlements/core_features`);
    expect(await feature.json()).toEqual({
      feature: 'core_features',
      allowed: false,
      reason: 'dunning_exhausted',
      limit: null,
    });
  });

  it('two subscriptions on one customer: the highest tier wins and limits combine', async () => {
    const c = 'cus_FaTwo';
    await deliver(
      subscriptionCreatedEvent(
        sub(c, { id: 'sub_FaTwoBasic', items: [{ price: price('basic', 'year') }] }),
        at(T),
      ),
      subscriptionCreatedEvent(
        sub(c, { id: 'sub_FaTwoEnt', items: [{ price: price('enterprise') }] }),
        at(T + 60),
      ),
    );
    const e = await entitlements(c);
    expect(e.tier).toBe('enterprise');
    expect(e.features).toEqual(expect.arrayContaining(['basic_analytics', 'custom_dashboards']));
    await deliver(
      subscriptionDeletedEvent(
        sub(c, {
          id: 'sub_FaTwoEnt',
          status: 'canceled',
          canceledAt: T + DAY,
          endedAt: T + DAY,
          items: [{ price: price('enterprise') }],
        }),
        at(T + DAY),
      ),
    );
    expect(await entitlements(c)).toMatchObject({ tier: 'basic' });
  });

  it('answers by the product user id, and a customer deleted in Stripe loses its entitlements but keeps its audit trail', async () => {
    const c = 'cus_FaUser';
    await deliver(
      customerCreatedEvent(
        { id: c, email: 'user@example.com', metadata: { user_id: 'u_fa_1' }, created: T },
        at(T),
      ),
      subscriptionCreatedEvent(sub(c, { items: [{ price: price('premium') }] }), at(T + 10)),
    );
    const byUser = await system.get('/v1/users/u_fa_1/entitlements');
    expect(byUser.status).toBe(200);
    expect(await byUser.json()).toMatchObject({ customerId: c, userId: 'u_fa_1', tier: 'premium' });

    await deliver(customerDeletedEvent({ id: c, metadata: { user_id: 'u_fa_1' } }, at(T + DAY)));
    expect(await entitlements(c)).toMatchObject({ tier: null, features: [], reason: 'customer_deleted' });
    expect((await system.get('/v1/users/u_fa_1/entitlements')).status).toBe(404);
    const audit = await system.get(`/v1/customers/${c}/audit`);
    const trail = (await audit.json()) as { items: { type: string }[] };
    expect(trail.items.map((i) => i.type)).toEqual(
      expect.arrayContaining(['CustomerRegistered', 'SubscriptionStarted', 'CustomerDeleted']),
    );
  });

  it('?at= answers what the live model said at each moment of a scripted timeline', async () => {
    const c = 'cus_FaTimeline';
    const trialEnd = T + 7 * DAY;
    const periodEnd = trialEnd + 30 * DAY;
    const timeline: [number, object][] = [
      [
        T,
        subscriptionCreatedEvent(
          sub(c, {
            status: 'trialing',
            trialStart: T,
            trialEnd,
            currentPeriodEnd: trialEnd,
            items: [{ id: 'si_TL', price: price('basic') }],
          }),
          at(T),
        ),
      ],
      [
        trialEnd,
        subscriptionUpdatedEvent(
          sub(c, {
            status: 'active',
            trialStart: T,
            trialEnd,
            currentPeriodStart: trialEnd,
            currentPeriodEnd: periodEnd,
            items: [{ id: 'si_TL', price: price('basic') }],
          }),
          at(trialEnd),
        ),
      ],
      [
        trialEnd + DAY,
        subscriptionUpdatedEvent(
          sub(c, {
            status: 'active',
            trialStart: T,
            trialEnd,
            currentPeriodStart: trialEnd,
            currentPeriodEnd: periodEnd,
            items: [{ id: 'si_TL', price: price('premium') }],
          }),
          at(trialEnd + DAY),
        ),
      ],
      [
        trialEnd + 2 * DAY,
        subscriptionUpdatedEvent(
          sub(c, {
            status: 'past_due',
            trialStart: T,
            trialEnd,
            currentPeriodStart: trialEnd,
            currentPeriodEnd: periodEnd,
            items: [{ id: 'si_TL', price: price('premium') }],
          }),
          at(trialEnd + 2 * DAY),
        ),
      ],
      [
        trialEnd + 3 * DAY,
        subscriptionUpdatedEvent(
          sub(c, {
            status: 'active',
            trialStart: T,
            trialEnd,
            currentPeriodStart: trialEnd,
            currentPeriodEnd: periodEnd,
            cancelAtPeriodEnd: true,
            items: [{ id: 'si_TL', price: price('premium') }],
          }),
          at(trialEnd + 3 * DAY),
        ),
      ],
    ];
    const live: [number, Entitlements][] = [];
    for (const [when, event] of timeline) {
      await deliver(event as { id: string });
      live.push([when, await entitlements(c)]);
    }
    expect(live.map(([, e]) => `${e.tier}/${e.reason}`)).toEqual([
      'basic/trial',
      'basic/active_subscription',
      'premium/active_subscription',
      'premium/payment_past_due_grace',
      'premium/cancellation_scheduled_grace',
    ]);
    for (const [when, said] of live) {
      // A moment after each change, and before the next.
      expect(await entitlements(c, `?at=${iso(when + 60)}`)).toEqual(said);
    }
    const before = await system.get(`/v1/customers/${c}/entitlements?at=${iso(T - 60)}`);
    expect(before.status).toBe(404);
    const bad = await system.get(`/v1/customers/${c}/entitlements?at=yesterday`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'REQUEST.INVALID_PARAMETER' });
  });

  it('replaying every event twice leaves Redis and the audit table byte-for-byte the same', async () => {
    await system.settle();
    const before = await snapshot(system);
    expect(Object.keys(before.redis).length).toBeGreaterThan(10);
    expect(before.audit.length).toBeGreaterThan(20);

    // Republish the whole log twice through the real relay and Kafka: every consumer sees each event three times in all.
    for (const round of [1, 2])
      expect(await system.republishAll(`replay-${round}`)).toBe(before.audit.length);
    await system.settle();
    const after = await snapshot(system);
    expect(after.redis).toEqual(before.redis);
    expect(after.audit).toEqual(before.audit);
  });
});

async function snapshot(system: TestSystem): Promise<{ redis: Record<string, string>; audit: unknown[] }> {
  const redis = new Redis(system.config.REDIS_URL);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${system.namespace}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const values: Record<string, string> = {};
    // The consumer's checkpoints move with the redelivered offsets; the model itself must not.
    for (const key of keys.filter((k) => !k.endsWith(':ent:ckpt')).sort()) {
      const dump = await redis.dumpBuffer(key);
      values[key] = dump ? dump.toString('base64') : '';
    }
    const audit = await system.pool.query('SELECT * FROM audit_log ORDER BY event_id');
    return { redis: values, audit: audit.rows.map((row) => JSON.stringify(row)) };
  } finally {
    redis.disconnect();
  }
}
