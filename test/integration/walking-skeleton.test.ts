import { startTestSystem, eventually, type TestSystem } from '../support/app';
import { signStripePayload } from '../support/app';
import { customerCreatedEvent } from '../support/stripe-fixtures';

/**
 * One Stripe event all the way through the real services: signed webhook → PostgreSQL inbox →
 * Subscription aggregate → PostgreSQL event store → relay → Kafka → consumer group → Redis →
 * GET /v1/customers/{id}/entitlements.
 */

const created = Math.floor(Date.parse('2026-01-10T12:00:00Z') / 1000);

function subscriptionCreated(
  eventId: string,
  customer: string,
  subscription: string,
  price = 'price_premium_monthly',
) {
  return {
    id: eventId,
    object: 'event',
    api_version: '2024-06-20',
    created,
    livemode: false,
    type: 'customer.subscription.created',
    data: {
      object: {
        id: subscription,
        object: 'subscription',
        customer,
        status: 'active',
        created,
        start_date: created,
        current_period_start: created,
        current_period_end: created + 31 * 86400,
        cancel_at_period_end: false,
        cancel_at: null,
        canceled_at: null,
        ended_at: null,
        trial_start: null,
        trial_end: null,
        discount: null,
        discounts: [],
        pause_collection: null,
        cancellation_details: { reason: null, feedback: null, comment: null },
        metadata: {},
        items: {
          object: 'list',
          data: [
            {
              id: `si_${subscription.slice(4)}`,
              object: 'subscription_item',
              quantity: 1,
              price: {
                id: price,
                object: 'price',
                currency: 'usd',
                unit_amount: 4900,
                lookup_key: null,
                metadata: {},
                product: 'prod_premium',
                recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' },
                type: 'recurring',
              },
            },
          ],
        },
      },
    },
  };
}

describe('walking skeleton: a Stripe webhook becomes an entitlement through PostgreSQL, Kafka and Redis', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('signs customer.subscription.created with the test secret, posts it, and reads the premium tier from the entitlements API', async () => {
    const payload = subscriptionCreated('evt_skeleton_1', 'cus_Skeleton1', 'sub_Skeleton1');
    const response = await system.postWebhook(payload);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, duplicate: false });

    const body = await eventually(
      async () => {
        const r = await system.get('/v1/customers/cus_Skeleton1/entitlements');
        return {
          status: r.status,
          body: (await r.json()) as Record<string, unknown>,
          etag: r.headers.get('etag'),
        };
      },
      (r) => r.status === 200,
    );
    expect(body.body).toMatchObject({
      customerId: 'cus_Skeleton1',
      tier: 'premium',
      status: 'active',
      reason: 'active_subscription',
      features: ['advanced_api', 'core_features', 'premium_analytics', 'priority_support'],
      limits: { api_calls_per_day: 10000, storage_gb: 50, users: 5 },
      trialEndsAt: null,
      accessUntil: null,
    });
    expect(body.etag).toBe(`"cus_Skeleton1@${String(body.body.position)};open"`);

    const feature = await system.get('/v1/customers/cus_Skeleton1/entitlements/advanced_api');
    expect(await feature.json()).toEqual({
      feature: 'advanced_api',
      allowed: true,
      reason: 'active_subscription',
      limit: null,
    });
    const missing = await system.get('/v1/customers/cus_Skeleton1/entitlements/custom_dashboards');
    expect(await missing.json()).toEqual({
      feature: 'custom_dashboards',
      allowed: false,
      reason: 'not_in_tier',
      limit: null,
    });
  });

  it('stores the same webhook posted twice as one event in the store', async () => {
    const payload = subscriptionCreated(
      'evt_skeleton_twice',
      'cus_Twice1',
      'sub_Twice1',
      'price_basic_monthly',
    );
    const first = await system.postWebhook(payload);
    const second = await system.postWebhook(payload);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ received: true, duplicate: true });

    await eventually(
      () => system.get('/v1/customers/cus_Twice1/entitlements').then((r) => r.status),
      (status) => status === 200,
    );
    const inbox = await system.pool.query(
      `SELECT count(*)::int AS n FROM stripe_inbox WHERE stripe_event_id = 'evt_skeleton_twice'`,
    );
    expect(inbox.rows[0].n).toBe(1);
    const events = await system.store.readStream('subscription-sub_Twice1');
    expect(events.map((e) => e.type)).toEqual(['SubscriptionStarted']);
    expect(events[0]?.metadata.stripeEventId).toBe('evt_skeleton_twice');
  });

  it('answers a wrong signature with 400 and stores nothing', async () => {
    const payload = subscriptionCreated('evt_skeleton_forged', 'cus_Forged1', 'sub_Forged1');
    const response = await system.postWebhook(payload, { secret: 'whsec_not_ours' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'WEBHOOK.INVALID_SIGNATURE' });
    const inbox = await system.pool.query(
      `SELECT count(*)::int AS n FROM stripe_inbox WHERE stripe_event_id = 'evt_skeleton_forged'`,
    );
    expect(inbox.rows[0].n).toBe(0);
    expect(await system.store.readStream('subscription-sub_Forged1')).toEqual([]);
  });

  it('answers a malformed body with 400 and a JSON error', async () => {
    const body = '{"id":"evt_bad","type":"customer.subscription.created",';
    const response = await fetch(`${system.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripePayload(body, system.config.STRIPE_WEBHOOK_SECRET[0] as string),
      },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'The webhook body is not valid JSON.',
      code: 'WEBHOOK.MALFORMED_JSON',
    });
  });

  it('reports every dependency on /ready and is alive on /health', async () => {
    const health = await fetch(`${system.url}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${system.url}/ready`);
    const body = (await ready.json()) as { status: string; dependencies: Record<string, { status: string }> };
    expect(ready.status).toBe(200);
    expect(body.status).toBe('ready');
    expect(Object.keys(body.dependencies).sort()).toEqual([
      'clickhouse',
      'eventStore',
      'kafka',
      'postgres',
      'redis',
    ]);
    for (const dependency of Object.values(body.dependencies)) expect(dependency.status).toBe('up');
  });

  it('refuses the entitlements API without a key (401) and answers 404 for an unknown customer', async () => {
    const anonymous = await fetch(`${system.url}/v1/customers/cus_Skeleton1/entitlements`);
    expect(anonymous.status).toBe(401);
    const unknown = await system.get('/v1/customers/cus_Nobody/entitlements');
    expect(unknown.status).toBe(404);
    const bad = await system.get('/v1/customers/not-a-customer/entitlements');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'REQUEST.INVALID_PARAMETER' });
  });
});

describe('metrics', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('GET /metrics counts webhooks by result, inbox outcomes, relayed and projected events, in Prometheus text', async () => {
    const created = customerCreatedEvent({ id: 'cus_Metrics1' }, { id: 'evt_metrics_1' });
    await system.postWebhook(created);
    await system.postWebhook(created);
    await system.postWebhook({ id: 'evt_metrics_2', type: 'customer.created' }, { secret: 'whsec_wrong' });
    await system.settle();
    const response = await fetch(`${system.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/billing_ledger_webhooks_total\{result="stored"\} 1\b/);
    expect(text).toMatch(/billing_ledger_webhooks_total\{result="duplicate"\} 1\b/);
    expect(text).toMatch(/billing_ledger_webhooks_total\{result="rejected"\} 1\b/);
    expect(text).toMatch(/billing_ledger_inbox_events_total\{outcome="processed"\} 1\b/);
    expect(text).toMatch(/billing_ledger_relay_events_total [1-9]/);
    expect(text).toMatch(/billing_ledger_projection_events_total\{projection="entitlements"\} [1-9]/);
    expect(text).toMatch(/billing_ledger_relay_lag_events 0\b/);
    expect(text).toMatch(
      /billing_ledger_http_request_duration_seconds_count\{method="POST",route="\/webhooks\/stripe",status="200"\} 2\b/,
    );
  });
});
