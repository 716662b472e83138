import type { Server } from 'node:http';
import type { Pool, PoolClient } from 'pg';
import { toBusEvent, type BusEvent } from '../../src/bus/port';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import { createGatewayApp } from '../../src/gateway/app';
import { auditRouter } from '../../src/gateway/audit-routes';
import { requireScope } from '../../src/gateway/auth';
import { auditReadModel } from '../../src/projections/audit/audit-read-model';
import { MalformedAuditEvent, PostgresAuditLog } from '../../src/projections/audit/postgres-audit-log';
import { rebuildAuditLog } from '../../src/projections/audit/rebuild-audit-log';
import { silentLogger } from '../../src/shared/logger';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
const minute = (n: number): string => new Date(Date.UTC(2026, 0, 10, 9, n)).toISOString();

/** Event n of a customer's subscription: occurred at minute n, log position n. */
function busEvent(n: number, overrides: Partial<BusEvent> = {}): BusEvent {
  const customerId = overrides.customerId ?? 'cus_audit';
  return {
    eventId: uuid(n),
    type: 'SubscriptionBecamePastDue',
    streamName: 'subscription-sub_audit',
    revision: n,
    position: String(n),
    customerId,
    data: {
      customerId,
      subscriptionId: 'sub_audit',
      occurredAt: minute(n),
      stripeEventId: `evt_${n}`,
      from: 'active',
      status: 'past_due',
      mrr: { amount: 4900, currency: 'usd' },
    },
    metadata: {
      schemaVersion: 1,
      source: 'stripe',
      stripeEventId: `evt_${n}`,
      stripeEventType: 'customer.subscription.updated',
      correlationId: `evt_${n}`,
    },
    recordedAt: minute(n + 30),
    ...overrides,
  };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('audit log read model (PostgreSQL)', () => {
  let db: TestDatabase;
  let log: PostgresAuditLog;
  beforeEach(async () => {
    db = await createTestDatabase({ prefix: 'audit' });
    log = new PostgresAuditLog(db.pool, silentLogger);
  });
  afterEach(async () => {
    await db?.drop();
  });

  const dump = async (table = 'audit_log'): Promise<unknown[]> =>
    (await db.pool.query(`SELECT * FROM ${table} ORDER BY event_id`)).rows;
  const checkpoint = async (name = 'audit-log'): Promise<string | undefined> =>
    (await db.pool.query<{ position: string }>('SELECT position FROM checkpoints WHERE name = $1', [name]))
      .rows[0]?.position;

  /** The test database, except that the statement containing `sql` fails with `error`. */
  const poolFailingAt = (sql: string, error: Error): Pool =>
    ({
      connect: async () => {
        const client = await db.pool.connect();
        const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<unknown>;
        return Object.assign(Object.create(client) as PoolClient, {
          query: (text: string, values?: unknown[]) =>
            text.includes(sql) ? Promise.reject(error) : query(text, values),
          release: () => client.release(),
        });
      },
    }) as unknown as Pool;

  describe('applyBatch', () => {
    it('applying the same batch twice leaves the table identical, and a partial overlap adds only the new rows', async () => {
      const batch = range(1, 5).map((n) => busEvent(n));
      expect(await log.applyBatch(batch)).toEqual({ inserted: 5, duplicates: 0, skipped: 0 });
      const once = await dump();
      expect(once).toHaveLength(5);
      expect(await checkpoint()).toBe('5');

      expect(await log.applyBatch(batch)).toEqual({ inserted: 0, duplicates: 5, skipped: 0 });
      expect(await dump()).toEqual(once);
      expect(await checkpoint()).toBe('5');

      // Redelivered out of order with a duplicate inside the batch: only 6 and 7 are new.
      expect(await log.applyBatch([busEvent(7), busEvent(3), busEvent(6), busEvent(7)])).toEqual({
        inserted: 2,
        duplicates: 1,
        skipped: 0,
      });
      const after = await dump();
      expect(after.slice(0, 5)).toEqual(once);
      expect(after).toHaveLength(7);
      // An older batch never moves the checkpoint back.
      await log.applyBatch([busEvent(2)]);
      expect(await checkpoint()).toBe('7');
    });

    it('stores what support needs to read one row', async () => {
      await log.applyBatch([busEvent(1)]);
      expect((await db.pool.query('SELECT * FROM audit_log')).rows[0]).toEqual({
        event_id: uuid(1),
        customer_id: 'cus_audit',
        subscription_id: 'sub_audit',
        event_type: 'SubscriptionBecamePastDue',
        stream_name: 'subscription-sub_audit',
        stream_revision: 1,
        log_position: '1',
        summary: 'Subscription past due: status active → past_due; MRR now $49.00 USD',
        changes: [{ field: 'status', before: 'active', after: 'past_due' }],
        source: 'stripe',
        source_ref: null,
        stripe_event_id: 'evt_1',
        stripe_event_type: 'customer.subscription.updated',
        correlation_id: 'evt_1',
        causation_id: null,
        schema_version: 1,
        occurred_at: new Date(minute(1)),
        recorded_at: new Date(minute(31)),
      });
    });

    it('gives unknown types a row, skips only malformed envelopes, and survives text PostgreSQL cannot store', async () => {
      const malformed = { ...busEvent(2), position: 'soon' } as unknown as BusEvent;
      const unknown = busEvent(3, {
        type: 'DunningStepScheduled',
        data: { customerId: 'cus_audit' },
        metadata: { schemaVersion: 1, source: 'saga', correlationId: 'corr\u0000x' },
      });
      expect(await log.applyBatch([busEvent(1), malformed, unknown])).toEqual({
        inserted: 2,
        duplicates: 0,
        skipped: 1,
      });
      const rows = (
        await db.pool.query(
          'SELECT event_type, summary, changes, source, correlation_id FROM audit_log ORDER BY log_position',
        )
      ).rows;
      expect(rows.map((r) => r.event_type)).toEqual(['SubscriptionBecamePastDue', 'DunningStepScheduled']);
      expect(rows[1]).toEqual({
        event_type: 'DunningStepScheduled',
        summary: 'DunningStepScheduled (no summary for this event type)',
        changes: [],
        source: 'saga',
        correlation_id: 'corr\uFFFDx',
      });
    });

    it('commits rows and checkpoint together: a failure before the checkpoint leaves neither', async () => {
      const failingPool = poolFailingAt('INSERT INTO checkpoints', new Error('connection lost'));
      await expect(new PostgresAuditLog(failingPool, silentLogger).applyBatch([busEvent(1)])).rejects.toThrow(
        'connection lost',
      );
      expect(await dump()).toEqual([]);
      expect(await checkpoint()).toBeUndefined();
    });
  });

  describe('read model on the consumer runtime', () => {
    const model = () => auditReadModel({ pool: db.pool, logger: silentLogger });
    const consumerCheckpoints = async () =>
      (
        await db.pool.query<{ kafka_partition: number; next_offset: string }>(
          'SELECT kafka_partition, next_offset FROM consumer_checkpoints ORDER BY kafka_partition',
        )
      ).rows.map((r) => [r.kafka_partition, r.next_offset]);

    it('writes rows and the partition checkpoint, and prepare() answers the checkpoints it wrote', async () => {
      const audit = model();
      expect(await audit.prepare(new AbortController().signal)).toEqual(new Map());
      await audit.apply({ partition: 0, events: [busEvent(1), busEvent(2)], nextOffset: '2' });
      await audit.apply({ partition: 2, events: [busEvent(3)], nextOffset: '41' });
      // Only the checkpoint moves (the events were dead-lettered or not parseable).
      await audit.apply({ partition: 0, events: [], nextOffset: '5' });
      // A late batch of a previous owner of the partition never moves it back.
      await audit.apply({ partition: 2, events: [busEvent(3)], nextOffset: '40' });

      expect(await dump()).toHaveLength(3);
      expect(await model().prepare(new AbortController().signal)).toEqual(
        new Map([
          [0, '5'],
          [2, '41'],
        ]),
      );
    });

    it('commits rows and partition checkpoint together: a failure at the checkpoint leaves neither', async () => {
      const failingPool = poolFailingAt(
        'INSERT INTO consumer_checkpoints',
        new Error('Connection terminated unexpectedly'),
      );
      const audit = auditReadModel({ pool: failingPool, logger: silentLogger });
      await expect(audit.apply({ partition: 1, events: [busEvent(1)], nextOffset: '1' })).rejects.toThrow(
        'Connection terminated unexpectedly',
      );
      expect(await dump()).toEqual([]);
      expect(await consumerCheckpoints()).toEqual([]);
    });

    it('refuses a malformed event with MalformedAuditEvent (the runtime dead-letters it) and writes nothing of its batch', async () => {
      const malformed = { ...busEvent(2), recordedAt: 'yesterday' };
      await expect(
        model().apply({ partition: 0, events: [busEvent(1), malformed], nextOffset: '2' }),
      ).rejects.toBeInstanceOf(MalformedAuditEvent);
      expect(await dump()).toEqual([]);
      expect(await consumerCheckpoints()).toEqual([]);
    });

    it('replay inserts a dead-lettered event once and leaves the partition checkpoints alone', async () => {
      const audit = model();
      await audit.apply({ partition: 0, events: [busEvent(1)], nextOffset: '1' });
      await audit.replay(busEvent(2));
      await audit.replay(busEvent(2));
      expect((await dump()).map((row) => (row as { log_position: string }).log_position)).toEqual(['1', '2']);
      expect(await consumerCheckpoints()).toEqual([[0, '1']]);
    });
  });

  describe('append-only', () => {
    beforeEach(async () => {
      await log.applyBatch(range(1, 3).map((n) => busEvent(n)));
    });

    it.each([
      ['UPDATE', `UPDATE audit_log SET summary = 'nothing happened' WHERE log_position = 1`],
      ['DELETE', `DELETE FROM audit_log WHERE log_position = 1`],
      ['DELETE', `DELETE FROM audit_log WHERE false`],
      ['TRUNCATE', `TRUNCATE audit_log`],
      [
        'UPDATE',
        `INSERT INTO audit_log SELECT * FROM audit_log WHERE log_position = 1 ON CONFLICT (event_id) DO UPDATE SET summary = 'x'`,
      ],
    ])('refuses %s in the database: %s', async (operation, sql) => {
      const before = await dump();
      await expect(db.pool.query(sql)).rejects.toThrow(
        `audit log is append-only: ${operation} on audit_log is refused`,
      );
      expect(await dump()).toEqual(before);
    });

    it('refuses even with session_replication_role = replica, which skips ordinary triggers', async () => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL session_replication_role = replica');
        await expect(client.query('DELETE FROM audit_log')).rejects.toThrow(
          'audit log is append-only: DELETE on audit_log is refused',
        );
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      expect(await dump()).toHaveLength(3);
    });

    it('keeps the trail of a customer deleted in Stripe', async () => {
      await log.applyBatch([
        busEvent(4, {
          type: 'CustomerDeleted',
          streamName: 'customer-cus_audit',
          data: { customerId: 'cus_audit', occurredAt: minute(4), stripeEventId: 'evt_4' },
        }),
      ]);
      const rows = (await db.pool.query('SELECT event_type, summary FROM audit_log ORDER BY log_position'))
        .rows;
      expect(rows).toHaveLength(4);
      expect(rows[3]).toEqual({
        event_type: 'CustomerDeleted',
        summary: 'Customer deleted in Stripe (the audit trail is kept)',
      });
    });
  });

  describe('rebuild', () => {
    it('fills a new append-only table from the log and swaps it in, keeping the old one and every row', async () => {
      const store = new MemoryEventStore();
      for (const n of range(1, 6)) {
        const { eventId: id, type, data, metadata } = busEvent(n);
        await store.appendToStream(
          'subscription-sub_audit',
          [{ id, type, data, metadata }],
          n === 1 ? 'no_stream' : 'stream_exists',
        );
      }
      await store.appendToStream(
        'customer-cus_none',
        [{ id: uuid(99), type: 'Orphan', data: {}, metadata: { schemaVersion: 1 } }],
        'no_stream',
      );
      const recorded = await store.readAll();
      // The live table has only the first four, as if the consumer were behind.
      await log.applyBatch(recorded.slice(0, 4).map(toBusEvent));
      const live = await dump();

      const result = await rebuildAuditLog({
        pool: db.pool,
        store,
        logger: silentLogger,
        batchSize: 2,
        now: () => new Date('2026-03-01T10:20:30Z'),
      });

      expect(result).toEqual({ events: 7, position: 7n, retiredTable: 'audit_log_retired_20260301102030' });
      expect(await dump('audit_log_retired_20260301102030')).toEqual(live);
      const rebuilt = (await dump()) as Array<{ event_id: string; recorded_at: Date }>;
      expect(rebuilt.map((row) => row.event_id)).toEqual(range(1, 6).map(uuid));
      // Same rows for the same events (the memory store records its own times).
      expect(rebuilt.slice(0, 4)).toEqual(live);
      expect(await checkpoint()).toBe('7');
      expect(await checkpoint('audit-log:rebuild')).toBeUndefined();
      await expect(db.pool.query('DELETE FROM audit_log')).rejects.toThrow('audit log is append-only');
      await expect(db.pool.query('TRUNCATE audit_log_retired_20260301102030')).rejects.toThrow(
        'audit log is append-only',
      );

      // The live consumer goes on into the new table, idempotently.
      await log.applyBatch(recorded.slice(0, 6).map(toBusEvent));
      expect(await dump()).toEqual(rebuilt);
    });
  });

  describe('GET /v1/customers/{customerId}/audit', () => {
    let server: Server;
    let base: string;
    const keys = [
      { key: 'audit-reader-key', scopes: ['audit:read'] },
      { key: 'other-scope-key', scopes: ['entitlements:read'] },
    ];

    beforeEach(async () => {
      const app = createGatewayApp(
        [auditRouter({ pool: db.pool, guard: requireScope(keys, 'audit:read') })],
        silentLogger,
      );
      server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      const address = server.address();
      base = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
      // Seven rows for cus_audit, applied out of order; one of another customer in between.
      await log.applyBatch(
        [4, 1, 7, 2, 6, 3, 5].map((n) =>
          busEvent(n, n % 2 === 0 ? { type: 'SubscriptionPaymentRecovered' } : {}),
        ),
      );
      await log.applyBatch([busEvent(8, { customerId: 'cus_other' })]);
    });
    afterEach(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const get = async (path: string, key = 'audit-reader-key') => {
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
      return {
        status: response.status,
        body: (await response.json()) as {
          items: Array<{ eventId: string; type: string; occurredAt: string; position: string }>;
          nextCursor: string | null;
        } & { code?: string; error?: string; details?: { parameter?: string } },
      };
    };
    const positions = (items: Array<{ position: string }>) => items.map((item) => Number(item.position));

    it('pages 7 rows by 3 as 3, 3, 1, in occurred order, without overlap', async () => {
      const pages: number[][] = [];
      let cursor: string | null = null;
      do {
        const page = await get(`/v1/customers/cus_audit/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        pages.push(positions(page.body.items));
        cursor = page.body.nextCursor;
      } while (cursor !== null && pages.length < 10);
      expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    });

    it('answers the documented shape with the default limit', async () => {
      const { status, body } = await get('/v1/customers/cus_audit/audit');
      expect(status).toBe(200);
      expect(body.nextCursor).toBeNull();
      expect(positions(body.items)).toEqual(range(1, 7));
      expect(body.items[0]).toEqual({
        eventId: uuid(1),
        type: 'SubscriptionBecamePastDue',
        customerId: 'cus_audit',
        subscriptionId: 'sub_audit',
        summary: 'Subscription past due: status active → past_due; MRR now $49.00 USD',
        changes: [{ field: 'status', before: 'active', after: 'past_due' }],
        source: {
          kind: 'stripe',
          ref: null,
          stripeEventId: 'evt_1',
          stripeEventType: 'customer.subscription.updated',
        },
        correlationId: 'evt_1',
        causationId: null,
        occurredAt: minute(1),
        recordedAt: minute(31),
        stream: { name: 'subscription-sub_audit', revision: 1 },
        position: '1',
      });
    });

    it('filters by occurred time (from inclusive, to exclusive) and by type, and pages within the filter', async () => {
      expect(
        positions((await get(`/v1/customers/cus_audit/audit?from=${minute(2)}&to=${minute(6)}`)).body.items),
      ).toEqual([2, 3, 4, 5]);
      expect(
        positions((await get('/v1/customers/cus_audit/audit?type=SubscriptionPaymentRecovered')).body.items),
      ).toEqual([2, 4, 6]);
      expect(
        positions(
          (
            await get(
              '/v1/customers/cus_audit/audit?type=SubscriptionPaymentRecovered,SubscriptionBecamePastDue&limit=200',
            )
          ).body.items,
        ),
      ).toEqual(range(1, 7));
      const first = await get(
        `/v1/customers/cus_audit/audit?type=SubscriptionBecamePastDue&from=${minute(2)}&limit=2`,
      );
      expect(positions(first.body.items)).toEqual([3, 5]);
      const second = await get(
        `/v1/customers/cus_audit/audit?type=SubscriptionBecamePastDue&from=${minute(2)}&limit=2&cursor=${first.body.nextCursor}`,
      );
      expect(positions(second.body.items)).toEqual([7]);
      expect(second.body.nextCursor).toBeNull();
    });

    it('shows only the customer asked for, and an empty trail for one without rows', async () => {
      expect(positions((await get('/v1/customers/cus_other/audit')).body.items)).toEqual([8]);
      expect((await get('/v1/customers/cus_nobody/audit')).body).toEqual({ items: [], nextCursor: null });
    });

    it.each([
      ['/v1/customers/cus_audit/audit?limit=0', 'limit'],
      ['/v1/customers/cus_audit/audit?limit=500', 'limit'],
      ['/v1/customers/cus_audit/audit?limit=ten', 'limit'],
      ['/v1/customers/cus_audit/audit?from=last-week', 'from'],
      ['/v1/customers/cus_audit/audit?to=2026-01-10', 'to'],
      ['/v1/customers/cus_audit/audit?type=Subscription_Started', 'type'],
      ['/v1/customers/cus_audit/audit?cursor=abc', 'cursor'],
      ['/v1/customers/cus_audit/audit?sort=desc', 'sort'],
      ['/v1/customers/not-a-customer/audit', 'customerId'],
    ])('answers 400 naming the parameter: %s', async (path, parameter) => {
      const { status, body } = await get(path);
      expect(status).toBe(400);
      expect(body).toMatchObject({ code: 'REQUEST.INVALID_PARAMETER', details: { parameter } });
      expect(body.error).toContain(parameter);
    });

    it('needs a key with the audit:read scope', async () => {
      expect((await fetch(`${base}/v1/customers/cus_audit/audit`)).status).toBe(401);
      expect((await get('/v1/customers/cus_audit/audit', 'other-scope-key')).status).toBe(403);
    });
  });
});
