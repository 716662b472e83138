import type { BusEvent } from '../../src/bus/port';
import { auditEntryOf, type AuditEntry } from '../../src/projections/audit/audit-entry';

const recordedAt = '2026-01-10T09:00:05.000Z';

function envelope(overrides: Partial<BusEvent> = {}): BusEvent {
  return {
    eventId: '00000000-0000-4000-8000-0000000000aa',
    type: 'SubscriptionCancellationWithdrawn',
    streamName: 'subscription-sub_9',
    revision: 3,
    position: '42',
    customerId: 'cus_9',
    data: {
      customerId: 'cus_9',
      subscriptionId: 'sub_9',
      occurredAt: '2026-01-10T09:00:00.000Z',
      stripeEventId: 'evt_data',
    },
    metadata: { schemaVersion: 1 },
    recordedAt,
    ...overrides,
  };
}

function entry(overrides: Partial<BusEvent> = {}): AuditEntry {
  const result = auditEntryOf(envelope(overrides));
  if (!result.ok) throw new Error(result.reason);
  return result.entry;
}

describe('audit entry of a bus event', () => {
  it('keeps the ids, stream, position, summary and the Stripe source', () => {
    expect(entry()).toEqual({
      eventId: '00000000-0000-4000-8000-0000000000aa',
      customerId: 'cus_9',
      subscriptionId: 'sub_9',
      eventType: 'SubscriptionCancellationWithdrawn',
      streamName: 'subscription-sub_9',
      streamRevision: 3,
      position: '42',
      summary: 'Scheduled cancellation withdrawn',
      changes: [{ field: 'cancellationScheduled', before: true, after: false }],
      source: 'stripe',
      sourceRef: null,
      stripeEventId: 'evt_data',
      stripeEventType: null,
      correlationId: null,
      causationId: null,
      schemaVersion: 1,
      occurredAt: '2026-01-10T09:00:00.000Z',
      recordedAt,
    });
  });

  it('takes source, Stripe event, correlation, causation and occurred time from the metadata first', () => {
    const e = entry({
      metadata: {
        schemaVersion: 1,
        source: 'portal',
        portalSessionId: 'bps_1',
        stripeEventId: 'evt_meta',
        stripeEventType: 'customer.subscription.updated',
        correlationId: 'corr-1',
        causationId: 'cause-1',
        occurredAt: '2026-01-10T08:59:59+01:00',
      },
    });
    expect(e).toMatchObject({
      source: 'portal',
      sourceRef: 'bps_1',
      stripeEventId: 'evt_meta',
      stripeEventType: 'customer.subscription.updated',
      correlationId: 'corr-1',
      causationId: 'cause-1',
      occurredAt: '2026-01-10T07:59:59.000Z',
    });
  });

  it('falls back to the recorded time, and to the stream for the subscription id', () => {
    const e = entry({ type: 'SagaDecided', data: { customerId: 'cus_9' } });
    expect(e).toMatchObject({
      occurredAt: recordedAt,
      subscriptionId: 'sub_9',
      source: null,
      stripeEventId: null,
    });
    expect(entry({ streamName: 'customer-cus_9', data: { customerId: 'cus_9' } }).subscriptionId).toBeNull();
  });

  it('refuses only an envelope it cannot key, order or date, with the reason', () => {
    expect(auditEntryOf({ ...envelope(), position: 'later' })).toEqual({
      ok: false,
      reason: expect.stringContaining('position'),
    });
    expect(auditEntryOf({ ...envelope(), customerId: '' })).toEqual({
      ok: false,
      reason: expect.stringContaining('customerId'),
    });
    expect(auditEntryOf({ ...envelope(), recordedAt: 'yesterday' })).toEqual({
      ok: false,
      reason: expect.stringContaining('recordedAt'),
    });
    expect(auditEntryOf(null)).toMatchObject({ ok: false });
  });
});
