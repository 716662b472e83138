import { randomUUID } from 'node:crypto';
import { MemoryBus } from '../../src/bus/memory-bus';
import { PostgresEventStore } from '../../src/eventstore/postgres-event-store';
import { PostgresCheckpoints } from '../../src/relay/checkpoints';
import { PostgresLeaderLock } from '../../src/relay/leadership';
import { Relay } from '../../src/relay/relay';
import { silentLogger } from '../../src/shared/logger';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'relay_leader' });
});
afterAll(async () => {
  await db?.drop();
});

const KEY = 4242;
const lock = () => new PostgresLeaderLock({ connectionString: db.url }, KEY, { heartbeatMs: 0 });

function event(customerId: string) {
  return { id: randomUUID(), type: 'Tested', data: { customerId }, metadata: { schemaVersion: 1 } };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('relay leadership on PostgreSQL', () => {
  it('one holder at a time; released or lost, the other takes it', async () => {
    const [a, b] = [lock(), lock()];
    try {
      expect(await a.acquire()).toBe(true);
      expect(await b.acquire()).toBe(false);
      expect(await a.acquire()).toBe(true); // confirms
      await a.release();
      expect(await b.acquire()).toBe(true);
      // b's session is killed (as when its connection drops): a can take over, and b finds out it lost.
      await db.pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'billing-ledger relay leader' AND pid <> pg_backend_pid() AND datname = current_database()",
      );
      await until(() => a.acquire());
      expect(await b.acquire()).toBe(false);
      expect(b.isLeader).toBe(false);
      expect(a.isLeader).toBe(true);
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });

  it('two relays on two stores (two processes): woken by NOTIFY, each event published once, the standby takes over', async () => {
    const stores = [new PostgresEventStore(db.pool), new PostgresEventStore(db.pool)];
    const writer = new PostgresEventStore(db.pool);
    const bus = new MemoryBus();
    const locks = [lock(), lock()];
    const relays = stores.map(
      (store, i) =>
        new Relay(store, bus.publisher(), new PostgresCheckpoints(db.pool), {
          name: 'relay-test',
          logger: silentLogger,
          wakeup: store.changes(),
          idleMs: 30_000, // a poll would be too slow for this test: only NOTIFY can wake it
          leadership: locks[i],
          leadershipRetryMs: 20,
        }),
    );
    const stops = [new AbortController(), new AbortController()];
    const running = relays.map((r, i) => r.run(stops[i]!.signal));
    try {
      await until(() => relays.some((r) => r.isLeader));
      await new Promise((resolve) => setTimeout(resolve, 200)); // the leader waits on NOTIFY
      for (let i = 0; i < 10; i++) await writer.appendToStream(`s-${i}`, [event(`cus_${i}`)], 'no_stream');
      await until(() => bus.log.length >= 10, 5000);
      const leader = relays.findIndex((r) => r.isLeader);

      stops[leader]!.abort(); // the leader stops: its session ends and the lock is free
      await running[leader];
      await until(() => relays[1 - leader]!.isLeader);
      for (let i = 10; i < 20; i++) await writer.appendToStream(`s-${i}`, [event(`cus_${i}`)], 'no_stream');
      await until(() => bus.log.length >= 20, 5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const positions = bus.log.map((raw) => (JSON.parse(raw) as { position: string }).position);
      expect(positions).toHaveLength(20);
      expect(new Set(positions).size).toBe(20);
    } finally {
      stops.forEach((s) => s.abort());
      await Promise.all(running);
      await Promise.all([...stores, writer].map((s) => s.close()));
    }
  });
});
