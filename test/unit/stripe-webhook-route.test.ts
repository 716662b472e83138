import type { Server } from 'node:http';
import Stripe from 'stripe';
import { createGatewayApp } from '../../src/gateway/app';
import { stripeWebhookRouter, type WebhookInbox } from '../../src/gateway/stripe-webhook-route';
import { silentLogger } from '../../src/shared/logger';

const SECRET = 'whsec_unit_test_secret';
const ROTATED = 'whsec_unit_test_rotated';

class MemoryInbox implements WebhookInbox {
  readonly entries = new Map<string, unknown>();
  async store(entry: { stripeEventId: string; payload: Record<string, unknown> }) {
    if (this.entries.has(entry.stripeEventId)) return false;
    this.entries.set(entry.stripeEventId, entry.payload);
    return true;
  }
}

function sign(body: string, secret = SECRET): string {
  return Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
}

const event = (id = 'evt_1') =>
  JSON.stringify({
    id,
    object: 'event',
    type: 'customer.created',
    created: 1767225600,
    data: { object: { id: 'cus_1' } },
  });

describe('POST /webhooks/stripe', () => {
  let server: Server;
  let url: string;
  let inbox: MemoryInbox;

  beforeEach(async () => {
    inbox = new MemoryInbox();
    const app = createGatewayApp(
      [stripeWebhookRouter({ secrets: [ROTATED, SECRET], maxBodyBytes: 4096, inbox, logger: silentLogger })],
      silentLogger,
    );
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/webhooks/stripe`;
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (body: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('stores a correctly signed event and answers 200', async () => {
    const response = await post(event(), { 'stripe-signature': sign(event()) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, duplicate: false });
    expect([...inbox.entries.keys()]).toEqual(['evt_1']);
  });

  it('accepts a signature made with any configured secret (rotation)', async () => {
    const response = await post(event(), { 'stripe-signature': sign(event(), ROTATED) });
    expect(response.status).toBe(200);
  });

  it('answers a redelivery with 200 and stores nothing new', async () => {
    await post(event(), { 'stripe-signature': sign(event()) });
    const again = await post(event(), { 'stripe-signature': sign(event()) });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    expect(inbox.entries.size).toBe(1);
  });

  it('rejects a wrong signature with 400 and stores nothing', async () => {
    const response = await post(event(), { 'stripe-signature': sign(event(), 'whsec_someone_else') });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'WEBHOOK.INVALID_SIGNATURE' });
    expect(inbox.entries.size).toBe(0);
  });

  it('rejects a body changed after signing', async () => {
    const response = await post(event('evt_2'), { 'stripe-signature': sign(event('evt_1')) });
    expect(response.status).toBe(400);
    expect(inbox.entries.size).toBe(0);
  });

  it('rejects a missing signature header', async () => {
    const response = await post(event(), {});
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'WEBHOOK.MISSING_SIGNATURE' });
  });

  it('rejects a signed but malformed body with a JSON error', async () => {
    const body = '{"id": "evt_1", "type": ';
    const response = await post(body, { 'stripe-signature': sign(body) });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toMatchObject({
      code: 'WEBHOOK.MALFORMED_JSON',
      error: expect.any(String),
    });
    expect(inbox.entries.size).toBe(0);
  });

  it('rejects signed JSON that is not a Stripe event, saying why', async () => {
    const body = JSON.stringify({ id: 'nope', type: 'customer.created', created: 1, data: { object: {} } });
    const response = await post(body, { 'stripe-signature': sign(body) });
    expect(response.status).toBe(400);
    const json = (await response.json()) as { code: string; error: string };
    expect(json.code).toBe('WEBHOOK.MALFORMED_EVENT');
    expect(json.error).toMatch(/id must be a Stripe event id/);
    expect(inbox.entries.size).toBe(0);
  });

  it('rejects an oversized body with 413', async () => {
    const body = JSON.stringify({
      id: 'evt_big',
      type: 'customer.created',
      created: 1,
      data: { object: { pad: 'x'.repeat(5000) } },
    });
    const response = await post(body, { 'stripe-signature': sign(body) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'REQUEST.TOO_LARGE' });
    expect(inbox.entries.size).toBe(0);
  });
});
