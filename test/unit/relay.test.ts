import { MemoryBus } from '../../src/bus/memory-bus';
import { toBusEvent, type BusEvent, type EventPublisher } from '../../src/bus/port';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import type { EventData } from '../../src/eventstore/port';
import { MemoryCheckpoints } from '../../src/relay/checkpoints';
import { MemoryLeaderBoard } from '../../src/relay/leadership';
import { Relay } from '../../src/relay/relay';
import { silentLogger } from '../../src/shared/logger';
import { v4 as uuid } from 'uuid';

function event(customerId: string, n: number): EventData {
  return { id: uuid(), type: 'Tested', data: { customerId, n }, metadata: { schemaVersion: 1 } };
}

async function seed(store: MemoryEventStore, count: number) {
  for (let i = 0; i < count; i++) {
    const customer = `cus_${i % 3}`;
    await store.appendToStream(`customer-${customer}`, [event(customer, i)], 'any');
  }
}

describe('relay: event store → bus', () => {
  it('publishes every event once, in log order, keyed by customer, and checkpoints the last position', async () => {
    const store = new MemoryEventStore();
    await seed(store, 10);
    const bus = new MemoryBus();
    const checkpoints = new MemoryCheckpoints();
    const relay = new Relay(store, bus.publisher(), checkpoints, { batchSize: 4, logger: silentLogger });

    expect(await relay.runOnce()).toBe(4);
    expect(await relay.runOnce()).toBe(4);
    expect(await relay.runOnce()).toBe(2);
    expect(await relay.runOnce()).toBe(0);

    const published = bus.log.map((raw) => JSON.parse(raw) as BusEvent);
    expect(published.map((e) => e.data.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(published.map((e) => e.customerId)).toEqual(published.map((e) => `cus_${Number(e.data.n) % 3}`));
    expect(await checkpoints.load('relay')).toBe(BigInt(published[9]?.position ?? 0));
  });

  it('after a crash between publish and checkpoint, republishes the batch and a position-guarded consumer ends the same', async () => {
    const store = new MemoryEventStore();
    await seed(store, 6);
    const bus = new MemoryBus();
    const applied = new Map<string, number[]>();
    const positions = new Map<string, bigint>();
    await bus.consumer('g').start({
      handle: async (events) => {
        for (const e of events) {
          if (BigInt(e.position) <= (positions.get(e.customerId) ?? 0n)) continue;
          positions.set(e.customerId, BigInt(e.position));
          applied.set(e.customerId, [...(applied.get(e.customerId) ?? []), Number(e.data.n)]);
        }
      },
      deadLetter: async () => undefined,
    });

    const checkpoints = new MemoryCheckpoints();
    let crash = true;
    const crashing = {
      load: (name: string) => checkpoints.load(name),
      save: async (name: string, position: bigint) => {
        if (crash) {
          crash = false;
          throw new Error('process died before the checkpoint was saved');
        }
        await checkpoints.save(name, position);
      },
    };
    const relay = new Relay(store, bus.publisher(), crashing, { batchSize: 100, logger: silentLogger });
    await expect(relay.runOnce()).rejects.toThrow('process died');
    // A new process starts from the last saved checkpoint.
    const restarted = new Relay(store, bus.publisher(), crashing, { batchSize: 100, logger: silentLogger });
    expect(await restarted.runOnce()).toBe(6);

    expect(bus.log).toHaveLength(12); // the batch went out twice
    expect(Object.fromEntries(applied)).toEqual({ cus_0: [0, 3], cus_1: [1, 4], cus_2: [2, 5] });
  });

  it('does not advance the checkpoint when the broker rejects the batch', async () => {
    const store = new MemoryEventStore();
    await seed(store, 3);
    const failing: EventPublisher = {
      publish: async () => {
        throw new Error('broker unavailable');
      },
      close: async () => undefined,
    };
    const checkpoints = new MemoryCheckpoints();
    const relay = new Relay(store, failing, checkpoints, { logger: silentLogger });
    await expect(relay.runOnce()).rejects.toThrow('broker unavailable');
    expect(await checkpoints.load('relay')).toBeUndefined();
  });

  it('dead-letters an unparseable bus message with its reason and goes on', async () => {
    const bus = new MemoryBus();
    const letters: string[] = [];
    const handled: BusEvent[] = [];
    await bus.consumer('g').start({
      handle: async (events) => void handled.push(...events),
      deadLetter: async (letter) => void letters.push(letter.reason),
    });
    await bus.publishRaw('not json');
    await bus.publishRaw(JSON.stringify({ eventId: 'x' }));
    expect(letters[0]).toBe('message is not JSON');
    expect(letters[1]).toMatch(/eventId/);
    expect(handled).toEqual([]);
  });

  it('wakes on an append instead of polling: with a wakeup, nothing waits for the poll', async () => {
    const store = new MemoryEventStore();
    const bus = new MemoryBus();
    const relay = new Relay(store, bus.publisher(), new MemoryCheckpoints(), {
      logger: silentLogger,
      wakeup: store.changes(),
      idleMs: 60_000,
    });
    const stop = new AbortController();
    const running = relay.run(stop.signal);
    await until(() => true);
    await seed(store, 3);
    await until(() => bus.log.length === 3, 1000);
    stop.abort();
    await running;
    expect(bus.log).toHaveLength(3);
  });

  it('two relays sharing a leadership: only the leader publishes, and after a handover each event is published once', async () => {
    const store = new MemoryEventStore();
    const bus = new MemoryBus();
    const checkpoints = new MemoryCheckpoints();
    const board = new MemoryLeaderBoard();
    const [first, second] = [board.member(), board.member()];
    const relay = (leadership: typeof first) =>
      new Relay(store, bus.publisher(), checkpoints, {
        logger: silentLogger,
        batchSize: 7,
        wakeup: store.changes(),
        leadership,
        leadershipRetryMs: 5,
      });
    const relays = [relay(first), relay(second)];
    const stop = new AbortController();
    const running = relays.map((r) => r.run(stop.signal));

    await seed(store, 20);
    await until(() => bus.log.length >= 20);
    expect(relays.map((r) => r.isLeader).filter(Boolean)).toHaveLength(1);
    const before = relays.findIndex((r) => r.isLeader);

    // The leader's connection dies: the other takes over from the saved checkpoint.
    (before === 0 ? first : second).lose();
    await until(() => relays[1 - before]!.isLeader);
    await seed(store, 15);
    await until(() => bus.log.length >= 35);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop.abort();
    await Promise.all(running);

    const positions = bus.log.map((raw) => (JSON.parse(raw) as BusEvent).position);
    expect(positions).toHaveLength(35);
    expect(new Set(positions).size).toBe(35);
    expect(await checkpoints.load('relay')).toBe(await store.headPosition());
    expect(relays.map((r) => r.isLeader)).toEqual([false, false]); // released when stopped
  });
});

describe('relay batches', () => {
  it('publishes at most maxBatchBytes at once, and the rest on the next round, in order', async () => {
    const store = new MemoryEventStore();
    await seed(store, 10);
    const bus = new MemoryBus();
    const sizes: number[] = [];
    const publisher = bus.publisher();
    const measuring: EventPublisher = {
      publish: async (events) => {
        sizes.push(events.length);
        await publisher.publish(events);
      },
      close: () => publisher.close(),
    };
    const [first] = await store.readAll({ maxCount: 1 });
    const one = Buffer.byteLength(JSON.stringify(toBusEvent(first!))) + 64;
    const relay = new Relay(store, measuring, new MemoryCheckpoints(), {
      logger: silentLogger,
      maxBatchBytes: one * 3,
    });
    while ((await relay.runOnce()) > 0);
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(bus.log.map((raw) => (JSON.parse(raw) as BusEvent).data.n)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
