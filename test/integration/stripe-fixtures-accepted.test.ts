import { Agent } from 'node:http';
import Stripe from 'stripe';
import { customerStream } from '../../src/aggregates/streams';
import { HANDLED_STRIPE_EVENT_TYPES } from '../../src/commands/stripe/translate';
import { eventually, startTestSystem, type TestSystem } from '../support/app';
import { T0 } from '../support/stripe-fixtures';

/**
 * Stripe's own fixture objects, as stripe-mock serves them in the API version the `stripe`
 * package pins, posted as signed webhooks of every Stripe type we act on: a Stripe object of
 * its type is never refused, whatever it lacks for our purposes (an email, a user id...).
 */
type Fixture = Record<string, unknown>;

function stripeClient(): Stripe {
  const key = process.env.STRIPE_SECRET_KEY;
  const apiUrl = process.env.STRIPE_API_URL;
  if (!key || !apiUrl)
    throw new Error('STRIPE_SECRET_KEY and STRIPE_API_URL must be set (infra/local/env.sh)');
  const url = new URL(apiUrl);
  return new Stripe(key, {
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    // No keep-alive: jest should not wait on an idle socket to stripe-mock.
    httpAgent: new Agent({ keepAlive: false }),
  });
}

/** The object as it travels in a webhook body: plain JSON (the SDK wraps decimals and adds lastResponse). */
const asJson = (value: unknown): Fixture => {
  const { lastResponse: _r, ...plain } = JSON.parse(JSON.stringify(value)) as Fixture;
  return plain;
};

/** Which fixture each handled type carries: the longest matching prefix wins. */
const FIXTURE_OF_TYPE: [prefix: string, fixture: keyof Fixtures][] = [
  ['customer.discount.', 'discount'],
  ['customer.subscription.', 'subscription'],
  ['customer.', 'customer'],
  ['invoice.', 'invoice'],
  ['payment_method.', 'paymentMethod'],
];

interface Fixtures {
  customer: Fixture;
  subscription: Fixture;
  invoice: Fixture;
  paymentMethod: Fixture;
  discount: Fixture;
}

async function fetchFixtures(stripe: Stripe): Promise<Fixtures> {
  const customer = asJson(await stripe.customers.retrieve('cus_123'));
  const discount = customer.discount;
  if (!discount || typeof discount !== 'object')
    throw new Error('stripe-mock customer fixture has no discount');
  return {
    customer,
    subscription: asJson(await stripe.subscriptions.retrieve('sub_x')),
    invoice: asJson(await stripe.invoices.retrieve('in_x')),
    paymentMethod: asJson(await stripe.paymentMethods.retrieve('pm_x')),
    discount: discount as Fixture,
  };
}

function fixtureFor(type: string, fixtures: Fixtures): Fixture {
  const match = FIXTURE_OF_TYPE.find(([prefix]) => type.startsWith(prefix));
  if (!match) throw new Error(`no Stripe fixture for handled type ${type}: add one to this test`);
  return fixtures[match[1]];
}

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem();
});

afterAll(async () => {
  await system?.stop();
});

interface InboxRow {
  stripe_event_id: string;
  event_type: string;
  status: string;
  outcome: { outcome?: string; reason?: string; appended?: { streamName: string; count: number }[] } | null;
}

/** One signed webhook per handled type, each carrying its fixture; the inbox rows they left, printed. */
async function postEveryType(prefix: string, fixtures: Fixtures, apiVersion: string): Promise<InboxRow[]> {
  const events = HANDLED_STRIPE_EVENT_TYPES.map((type, i) => ({
    id: `${prefix}${String(i).padStart(2, '0')}`,
    object: 'event',
    type,
    api_version: apiVersion,
    created: T0 + i * 60,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: fixtureFor(type, fixtures) },
  }));
  for (const event of events) expect((await system.postWebhook(event)).status).toBe(200);
  await system.settle();
  const rows = (
    await system.pool.query<InboxRow>(
      `SELECT stripe_event_id, event_type, status, outcome FROM stripe_inbox
        WHERE stripe_event_id LIKE $1 ORDER BY stripe_event_id`,
      [`${prefix}%`],
    )
  ).rows;
  const report = rows.map((r) => {
    const appended = (r.outcome?.appended ?? []).map((a) => `${a.streamName} +${a.count}`).join(', ');
    return `${r.event_type.padEnd(38)} ${r.status.padEnd(10)} ${appended || r.outcome?.reason || ''}`;
  });
  console.log(
    `Stripe fixtures (API ${apiVersion}, ${prefix}*) posted as ${rows.length} handled types:\n${report.join('\n')}`,
  );
  return rows;
}

/** The streams a Stripe event was decided on (0 events when it said nothing new, e.g. invoice.payment_succeeded after invoice.paid). */
const decidedOn = (row: InboxRow | undefined): string[] =>
  (row?.outcome?.appended ?? []).map((a) => a.streamName);

it("Stripe's own fixture objects posted as each handled event type: none is marked invalid", async () => {
  const stripe = stripeClient();
  const fixtures = await fetchFixtures(stripe);
  const apiVersion = stripe.getConstant('DEFAULT_API_VERSION') as string;
  expect(fixtures.customer).toMatchObject({ object: 'customer', id: 'cus_123', email: null });

  const rows = await postEveryType('evt_fixture_', fixtures, apiVersion);
  expect(rows.map((r) => r.event_type)).toEqual(HANDLED_STRIPE_EVENT_TYPES);
  expect(rows.filter((r) => r.status === 'invalid')).toEqual([]);
  expect(rows.filter((r) => r.status !== 'processed')).toEqual([]);

  // The customer without an email exists, and the audit trail says what it lacks.
  const stream = await system.store.readStream(customerStream('cus_123'));
  expect(stream[0]).toMatchObject({
    type: 'CustomerRegistered',
    data: {
      customerId: 'cus_123',
      email: null,
      warnings: expect.arrayContaining([expect.stringMatching(/^no email/)]),
    },
  });
  const trail = await eventually(
    async () => {
      const response = await system.get('/v1/customers/cus_123/audit');
      return ((await response.json()) as { items?: { type: string; summary: string }[] }).items ?? [];
    },
    (items) => items.some((item) => item.type === 'CustomerRegistered'),
  );
  expect(trail.find((item) => item.type === 'CustomerRegistered')?.summary).toContain(
    'warnings: no email: email notifications impossible',
  );
});

it('the same fixtures, linked as Stripe links them (the invoice to its subscription, the card and the discount to the customer), are recorded', async () => {
  const stripe = stripeClient();
  const own = await fetchFixtures(stripe);
  const customer = 'cus_fixture1';
  const fixtures: Fixtures = {
    customer: { ...own.customer, id: customer },
    subscription: { ...own.subscription, id: 'sub_fixture1', customer },
    invoice: {
      ...own.invoice,
      customer,
      parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_fixture1' } },
    },
    paymentMethod: { ...own.paymentMethod, customer },
    discount: { ...own.discount, customer },
  };
  const rows = await postEveryType(
    'evt_linked_',
    fixtures,
    stripe.getConstant('DEFAULT_API_VERSION') as string,
  );
  expect(rows.filter((r) => r.status !== 'processed')).toEqual([]);
  const byType = new Map(rows.map((r) => [r.event_type, r]));
  for (const type of HANDLED_STRIPE_EVENT_TYPES.filter((t) => t !== 'customer.discount.created'))
    expect([type, decidedOn(byType.get(type))]).toEqual([type, [expect.stringContaining('fixture1')]]);
  // Stripe's discount fixture names no coupon terms (source.coupon is null): nothing to apply.
  expect(byType.get('customer.discount.created')?.outcome?.reason).toContain('carries no coupon terms');
});
