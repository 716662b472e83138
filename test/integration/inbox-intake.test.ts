import { InboxIntake } from '../../src/inbox/inbox-intake';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

const entry = (id: string, customer = 'cus_1') => ({
  stripeEventId: id,
  eventType: 'customer.subscription.updated',
  payload: { id, type: 'customer.subscription.updated', data: { object: { id: 'sub_1', customer } } },
  stripeCreated: new Date('2026-01-01T00:00:00Z'),
});

describe('inbox intake (group commit)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ prefix: 'intake' });
  });
  afterAll(() => db.drop());

  it('stores concurrent deliveries in shared INSERTs and tells each caller whether its event id was new', async () => {
    const intake = new InboxIntake(db.pool, { maxBatch: 50, maxInFlight: 2 });
    expect(await intake.store(entry('evt_before'))).toBe(true);
    const ids = Array.from({ length: 400 }, (_, i) => `evt_c${i % 300}`); // 100 ids delivered twice at once
    ids.push('evt_before'); // and one redelivery of an earlier one
    const results = await Promise.all(ids.map((id, i) => intake.store(entry(id, `cus_${i % 7}`))));
    expect(results.filter(Boolean)).toHaveLength(300);
    const newPerId = new Map<string, number>();
    ids.forEach((id, i) => newPerId.set(id, (newPerId.get(id) ?? 0) + (results[i] ? 1 : 0)));
    expect(newPerId.get('evt_before')).toBe(0);
    expect([...newPerId.entries()].filter(([id, n]) => id !== 'evt_before' && n !== 1)).toEqual([]);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT customer_key)::int AS customers FROM stripe_inbox`,
    );
    expect(rows[0]).toEqual({ n: 301, customers: 7 });
  });

  it('fails every caller of a batch that cannot be stored, and stores nothing of it', async () => {
    const intake = new InboxIntake(db.pool, { maxBatch: 10, maxInFlight: 1 });
    const good = intake.store(entry('evt_bad_batch_1'));
    const bad = intake.store({ ...entry('evt_bad_batch_2'), stripeCreated: new Date(Number.NaN) });
    const results = await Promise.allSettled([good, bad]);
    // The first goes alone (nothing in flight), the second fails on its own batch.
    expect(results[0]).toEqual({ status: 'fulfilled', value: true });
    expect(results[1]?.status).toBe('rejected');
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM stripe_inbox WHERE stripe_event_id = 'evt_bad_batch_2'`,
    );
    expect(rows[0].n).toBe(0);
  });
});
