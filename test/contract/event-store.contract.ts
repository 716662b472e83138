/**
 * The event store contract: every adapter passes the same suite (memory in the unit project;
 * PostgreSQL, and KurrentDB when configured, in the integration project).
 *
 * Tests only assume the log holds what they wrote after the position they started from, so the
 * suite also runs against a shared server whose log is not empty.
 */
import { randomUUID as uuid } from 'node:crypto';
import {
  DuplicateEventIdError,
  WrongExpectedRevisionError,
  type EventData,
  type EventStore,
  type RecordedEvent,
} from '../../src/eventstore/port';

export interface EventStoreContractOptions {
  /** A store just created has an empty log (head 0n). */
  startsEmpty?: boolean;
  /** An id stored in another stream is rejected. KurrentDB only compares ids at the expected position. */
  rejectsIdsStoredElsewhere?: boolean;
  /** appendMany keeps a group all-or-nothing (PostgreSQL, memory); KurrentDB applies requests one by one. */
  atomicGroups?: boolean;
  /** appendMany tells a replay from an append (stores that check requests themselves). */
  reportsReplays?: boolean;
  /** Size of the concurrency test. */
  concurrency?: { writers: number; appendsPerWriter: number; streams: number };
  /** Where the concurrency test reports what it did (counts, not times). */
  report?: (line: string) => void;
}

export function eventStoreContract(
  adapter: string,
  create: () => Promise<EventStore>,
  options: EventStoreContractOptions = {},
): void {
  const {
    startsEmpty = true,
    rejectsIdsStoredElsewhere = true,
    atomicGroups = true,
    reportsReplays = true,
  } = options;
  const concurrency = options.concurrency ?? { writers: 6, appendsPerWriter: 150, streams: 12 };

  describe(`event store contract: ${adapter}`, () => {
    let store: EventStore;
    let stream: (label: string) => string;
    beforeEach(async () => {
      store = await create();
      const run = uuid().slice(0, 8);
      stream = (label) => `${label}-${run}`;
    });
    afterEach(async () => {
      await store.close();
    });

    describe('appendToStream and readStream', () => {
      it('appends to a new stream and reads it back with revisions, positions and metadata', async () => {
        const name = stream('customer');
        const events = [
          event('CustomerCreated', { n: 1 }),
          event('CustomerUpdated', { n: 2, nested: { a: [1, 2] } }),
        ];
        const result = await store.appendToStream(name, events, 'no_stream');
        const read = await store.readStream(name);

        expect(read.map((e) => [e.id, e.type, e.data, e.revision, e.streamName])).toEqual([
          [events[0]!.id, 'CustomerCreated', { n: 1 }, 0, name],
          [events[1]!.id, 'CustomerUpdated', { n: 2, nested: { a: [1, 2] } }, 1, name],
        ]);
        expect(read[1]!.position).toBeGreaterThan(read[0]!.position);
        expect(result).toEqual({ nextExpectedRevision: 1, position: read[1]!.position });
        expect(read[0]!.recordedAt).toBeInstanceOf(Date);
        expect(Math.abs(read[0]!.recordedAt.getTime() - Date.now())).toBeLessThan(60_000);
      });

      it('keeps the metadata: correlation, causation, Stripe event id, schema version and extra keys', async () => {
        const name = stream('meta');
        const metadata = {
          schemaVersion: 2,
          correlationId: 'corr-1',
          causationId: 'cause-1',
          stripeEventId: 'evt_123',
          stripeEventType: 'invoice.paid',
          occurredAt: '2026-01-02T03:04:05.000Z',
          source: 'stripe',
          extra: { anything: true },
        };
        await store.appendToStream(name, [{ ...event('InvoicePaid'), metadata }], 'no_stream');
        const [read] = await store.readStream(name);
        expect(read!.metadata).toEqual(metadata);
      });

      it('continues a stream at its exact revision and reads forwards from a revision', async () => {
        const name = stream('sub');
        await store.appendToStream(name, [event('A'), event('B')], 'no_stream');
        const result = await store.appendToStream(name, [event('C')], 1);
        expect(result.nextExpectedRevision).toBe(2);
        expect((await store.readStream(name, 1)).map((e) => [e.type, e.revision])).toEqual([
          ['B', 1],
          ['C', 2],
        ]);
        expect(await store.readStream(name, 3)).toEqual([]);
      });

      it('reads a stream that does not exist as empty', async () => {
        expect(await store.readStream(stream('nothing'))).toEqual([]);
      });

      it('checks no_stream, stream_exists and any', async () => {
        const name = stream('states');
        await expect(store.appendToStream(name, [event('A')], 'stream_exists')).rejects.toMatchObject({
          code: 'EVENT_STORE.WRONG_EXPECTED_REVISION',
          actual: 'no_stream',
        });
        await store.appendToStream(name, [event('A')], 'no_stream');
        await expect(store.appendToStream(name, [event('B')], 'no_stream')).rejects.toBeInstanceOf(
          WrongExpectedRevisionError,
        );
        await store.appendToStream(name, [event('B')], 'stream_exists');
        await store.appendToStream(name, [event('C')], 'any');
        await store.appendToStream(stream('other'), [event('D')], 'any');
        expect((await store.readStream(name)).map((e) => e.type)).toEqual(['A', 'B', 'C']);
      });

      it('rejects a stale expected revision with a typed concurrency error and writes nothing', async () => {
        const name = stream('stale');
        await store.appendToStream(name, [event('A'), event('B')], 'no_stream');
        const error = await store.appendToStream(name, [event('C')], 0).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedRevisionError);
        expect(error).toMatchObject({ streamName: name, expected: 0, actual: 1 });
        await expect(store.appendToStream(name, [event('C')], 5)).rejects.toMatchObject({ actual: 1 });
        expect(await store.readStream(name)).toHaveLength(2);
      });
    });

    describe('idempotency on event id', () => {
      it('stores events appended twice with the same ids and expected revision once', async () => {
        const name = stream('twice');
        const first = await store.appendToStream(name, [event('A')], 'no_stream');
        const events = [event('B'), event('C')];
        const original = await store.appendToStream(name, events, 0);
        const retry = await store.appendToStream(name, events, 0);
        expect(retry).toEqual(original);
        expect((await store.readStream(name)).map((e) => e.type)).toEqual(['A', 'B', 'C']);
        expect(first.nextExpectedRevision).toBe(0);
      });

      it('accepts a late retry of an append after the stream has moved on', async () => {
        const name = stream('late');
        const events = [event('A')];
        const original = await store.appendToStream(name, events, 'no_stream');
        await store.appendToStream(name, [event('B')], 0);
        expect(await store.appendToStream(name, events, 'no_stream')).toEqual(original);
        expect(await store.readStream(name)).toHaveLength(2);
      });

      it('stores once when a retry races the original', async () => {
        const name = stream('race');
        const events = [event('A'), event('B')];
        const results = await Promise.all(
          [1, 2, 3].map(() => store.appendToStream(name, events, 'no_stream')),
        );
        expect(new Set(results.map((r) => r.position)).size).toBe(1);
        expect((await store.readStream(name)).map((e) => e.id)).toEqual(events.map((e) => e.id));
      });

      const elsewhere = rejectsIdsStoredElsewhere ? it : it.skip;
      elsewhere('rejects ids already stored in another stream with a typed error', async () => {
        const stored = event('A');
        await store.appendToStream(stream('first'), [stored], 'no_stream');
        const other = stream('second');
        await expect(store.appendToStream(other, [stored], 'no_stream')).rejects.toBeInstanceOf(
          DuplicateEventIdError,
        );
        expect(await store.readStream(other)).toEqual([]);
      });

      elsewhere('rejects ids already stored at another revision of the same stream', async () => {
        const name = stream('moved');
        const [a, b] = [event('A'), event('B')];
        await store.appendToStream(name, [a, b], 'no_stream');
        await expect(store.appendToStream(name, [b], 1)).rejects.toMatchObject({
          code: 'EVENT_STORE.DUPLICATE_EVENT_ID',
          eventIds: [b.id],
        });
        expect(await store.readStream(name)).toHaveLength(2);
      });
    });

    describe('appendMany', () => {
      it('appends to several streams in one call, with per-request revisions and consecutive positions', async () => {
        const a = stream('many-a');
        const b = stream('many-b');
        await store.appendToStream(b, [event('B0')], 'no_stream');
        const outcomes = await store.appendMany([
          { streamName: a, events: [event('A0'), event('A1')], expected: 'no_stream' },
          { streamName: b, events: [event('B1')], expected: 0 },
        ]);
        expect(outcomes.map((o) => [o.streamName, o.status])).toEqual([
          [a, 'appended'],
          [b, 'appended'],
        ]);
        const readA = await store.readStream(a);
        const readB = await store.readStream(b);
        expect(readA.map((e) => [e.type, e.revision])).toEqual([
          ['A0', 0],
          ['A1', 1],
        ]);
        expect(readB.map((e) => [e.type, e.revision])).toEqual([
          ['B0', 0],
          ['B1', 1],
        ]);
        expect(outcomes[0]).toMatchObject({ nextExpectedRevision: 1, position: readA[1]!.position });
        expect(outcomes[1]).toMatchObject({ nextExpectedRevision: 1, position: readB[1]!.position });
        expectIncreasing([readA[0]!.position, readA[1]!.position, readB[1]!.position]);
      });

      it('a conflict on one stream does not lose the others: it answers failed, the rest are stored', async () => {
        const a = stream('keep-a');
        const b = stream('conflict-b');
        const c = stream('keep-c');
        await store.appendToStream(b, [event('B0'), event('B1')], 'no_stream');
        const outcomes = await store.appendMany([
          { streamName: a, events: [event('A0')], expected: 'no_stream' },
          { streamName: b, events: [event('B2')], expected: 0 },
          { streamName: c, events: [event('C0')], expected: 'no_stream' },
        ]);
        expect(outcomes.map((o) => o.status)).toEqual(['appended', 'failed', 'appended']);
        const failed = outcomes[1];
        expect(failed?.status === 'failed' && failed.error).toBeInstanceOf(WrongExpectedRevisionError);
        expect(failed).toMatchObject({ error: { streamName: b, expected: 0, actual: 1 } });
        expect((await store.readStream(a)).map((e) => e.type)).toEqual(['A0']);
        expect((await store.readStream(b)).map((e) => e.type)).toEqual(['B0', 'B1']);
        expect((await store.readStream(c)).map((e) => e.type)).toEqual(['C0']);
      });

      (atomicGroups ? it : it.skip)(
        'a group is all-or-nothing: one failed request and the others of its group answer skipped and store nothing',
        async () => {
          const a = stream('group-a');
          const b = stream('group-b');
          const other = stream('group-other');
          await store.appendToStream(b, [event('B0')], 'no_stream');
          const outcomes = await store.appendMany([
            { streamName: a, events: [event('A0')], expected: 'no_stream', group: 'cus_1' },
            { streamName: other, events: [event('O0')], expected: 'no_stream', group: 'cus_2' },
            { streamName: b, events: [event('B1')], expected: 'no_stream', group: 'cus_1' },
          ]);
          expect(outcomes.map((o) => o.status)).toEqual(['skipped', 'appended', 'failed']);
          expect(await store.readStream(a)).toEqual([]);
          expect((await store.readStream(b)).map((e) => e.type)).toEqual(['B0']);
          expect((await store.readStream(other)).map((e) => e.type)).toEqual(['O0']);
        },
      );

      it('is idempotent per request: a retried call stores nothing twice', async () => {
        const a = stream('retry-a');
        const b = stream('retry-b');
        const requests = [
          { streamName: a, events: [event('A0'), event('A1')], expected: 'no_stream' as const },
          { streamName: b, events: [event('B0')], expected: 'no_stream' as const },
        ];
        const first = await store.appendMany(requests);
        const again = await store.appendMany(requests);
        expect(again.map((o) => o.status)).toEqual(
          reportsReplays ? ['replay', 'replay'] : ['appended', 'appended'],
        );
        expect(again.map((o) => 'position' in o && o.position)).toEqual(
          first.map((o) => 'position' in o && o.position),
        );
        expect(await store.readStream(a)).toHaveLength(2);
        expect(await store.readStream(b)).toHaveLength(1);
      });

      (rejectsIdsStoredElsewhere ? it : it.skip)(
        'answers failed with DuplicateEventIdError for ids stored elsewhere, and stores the other requests',
        async () => {
          const taken = event('Taken');
          await store.appendToStream(stream('owner'), [taken], 'no_stream');
          const fresh = stream('fresh');
          const outcomes = await store.appendMany([
            { streamName: stream('thief'), events: [taken], expected: 'no_stream' },
            { streamName: fresh, events: [event('F0')], expected: 'no_stream' },
          ]);
          expect(outcomes[0]).toMatchObject({ status: 'failed' });
          expect(outcomes[0]?.status === 'failed' && outcomes[0].error).toBeInstanceOf(DuplicateEventIdError);
          expect(outcomes[1]).toMatchObject({ status: 'appended' });
          expect(await store.readStream(fresh)).toHaveLength(1);
        },
      );

      it('refuses a call naming one stream twice, before writing anything', async () => {
        const name = stream('twice-in-call');
        await expect(
          store.appendMany([
            { streamName: name, events: [event('A')], expected: 'no_stream' },
            { streamName: name, events: [event('B')], expected: 0 },
          ]),
        ).rejects.toThrow(/appears twice/);
        expect(await store.readStream(name)).toEqual([]);
      });

      it('answers an empty call with no outcomes', async () => {
        expect(await store.appendMany([])).toEqual([]);
      });

      it('wakes live subscribers', async () => {
        const head = await store.headPosition();
        const controller = new AbortController();
        const seen: string[] = [];
        const following = (async () => {
          for await (const e of store.subscribeToAll({ after: head, signal: controller.signal })) {
            seen.push(e.type);
            if (seen.length === 2) controller.abort();
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 50));
        await store.appendMany([
          { streamName: stream('live-a'), events: [event('LiveA')], expected: 'no_stream' },
          { streamName: stream('live-b'), events: [event('LiveB')], expected: 'no_stream' },
        ]);
        await following;
        expect(seen).toEqual(['LiveA', 'LiveB']);
      });
    });

    describe('readAll and headPosition', () => {
      if (startsEmpty) {
        it('has head 0n and reads nothing when empty', async () => {
          expect(await store.headPosition()).toBe(0n);
          expect(await store.readAll()).toEqual([]);
        });
      }

      it('reads the whole log forwards after an exclusive position, in batches', async () => {
        const start = await store.headPosition();
        const [one, two] = [stream('one'), stream('two')];
        await store.appendToStream(one, [event('A'), event('B')], 'no_stream');
        await store.appendToStream(two, [event('C')], 'no_stream');
        await store.appendToStream(one, [event('D')], 1);

        const all = await readAllAfter(store, start, 2);
        expect(all.map((e) => [e.streamName, e.type, e.revision])).toEqual([
          [one, 'A', 0],
          [one, 'B', 1],
          [two, 'C', 0],
          [one, 'D', 2],
        ]);
        expectIncreasing(all.map((e) => e.position));
        expect(await store.headPosition()).toBe(all[3]!.position);
        expect((await store.readAll({ after: all[1]!.position, maxCount: 1 })).map((e) => e.type)).toEqual([
          'C',
        ]);
        expect(await store.readAll({ after: all[3]!.position })).toEqual([]);
      });
    });

    describe('subscribeToAll', () => {
      it('catches up from a checkpoint, then follows live appends, and ends when aborted', async () => {
        const name = stream('live');
        const start = await store.headPosition();
        await store.appendToStream(name, [event('A'), event('B'), event('C')], 'no_stream');
        const [first] = await store.readAll({ after: start, maxCount: 1 });
        const controller = new AbortController();
        const seen: string[] = [];
        const following = (async () => {
          for await (const e of store.subscribeToAll({
            after: first!.position,
            signal: controller.signal,
            batchSize: 1,
          })) {
            if (e.streamName !== name) continue;
            seen.push(e.type);
            if (seen.length === 2) void store.appendToStream(name, [event('D'), event('E')], 2);
            if (seen.length === 4) controller.abort();
          }
        })();
        await following;
        expect(seen).toEqual(['B', 'C', 'D', 'E']);
      });

      it('ends a subscription waiting for live events when its signal aborts', async () => {
        const controller = new AbortController();
        const subscription = store.subscribeToAll({
          after: await store.headPosition(),
          signal: controller.signal,
        });
        const next = subscription[Symbol.asyncIterator]().next();
        setTimeout(() => controller.abort(), 20);
        expect(await next).toEqual({ done: true, value: undefined });
      });

      it('stops cleanly when the consumer breaks out early (a hang here fails by timeout)', async () => {
        const name = stream('early');
        const start = await store.headPosition();
        await store.appendToStream(name, [event('A'), event('B'), event('C')], 'no_stream');
        const taken: string[] = [];
        for await (const e of store.subscribeToAll({ after: start, batchSize: 2 })) {
          taken.push(e.type);
          break;
        }
        expect(taken).toEqual(['A']);
      });

      it(`concurrency: ${concurrency.writers} writers on ${concurrency.streams} streams while a follower reads live; each event seen once, in stream order`, async () => {
        const start = await store.headPosition();
        const streams = Array.from({ length: concurrency.streams }, (_, i) => stream(`load${i}`));
        const stop = event('FollowerStop');
        const stopStream = stream('stop');

        const seen: RecordedEvent[] = [];
        const follower = (async () => {
          for await (const e of store.subscribeToAll({ after: start, batchSize: 50 })) {
            if (e.id === stop.id) return;
            if (streams.includes(e.streamName)) seen.push(e);
          }
        })();

        let conflicts = 0;
        const written: string[] = [];
        const writer = async (w: number): Promise<void> => {
          const known = new Map<string, number | 'no_stream'>();
          for (let i = 0; i < concurrency.appendsPerWriter; i++) {
            const name = streams[(w * 7 + i * 3) % streams.length]!;
            const events = Array.from({ length: 1 + ((w + i) % 3) }, () => event('Loaded', { w, i }));
            for (;;) {
              try {
                const expected = known.get(name) ?? 'no_stream';
                const result = await store.appendToStream(name, events, expected);
                known.set(name, result.nextExpectedRevision);
                written.push(...events.map((e) => e.id));
                break;
              } catch (error) {
                if (!(error instanceof WrongExpectedRevisionError)) throw error;
                conflicts += 1;
                known.set(name, error.actual);
              }
            }
          }
        };
        await Promise.all(Array.from({ length: concurrency.writers }, (_, w) => writer(w)));
        await store.appendToStream(stopStream, [stop], 'no_stream');
        await follower;

        expect(seen).toHaveLength(written.length);
        expect(new Set(seen.map((e) => e.id))).toEqual(new Set(written));
        expectIncreasing(seen.map((e) => e.position));
        for (const name of streams) {
          const followed = seen.filter((e) => e.streamName === name);
          expect(followed.map((e) => e.revision)).toEqual(followed.map((_, i) => i));
          expect(followed.map((e) => e.id)).toEqual((await store.readStream(name)).map((e) => e.id));
        }
        options.report?.(
          `${adapter}: ${concurrency.writers} writers appended ${written.length} events to ${streams.length} streams ` +
            `(${conflicts} conflicts retried); the live follower saw each exactly once, in stream order`,
        );
      });
    });
  });
}

export function event(type: string, data: Record<string, unknown> = {}): EventData {
  return { id: uuid(), type, data, metadata: { schemaVersion: 1, correlationId: 'test' } };
}

async function readAllAfter(store: EventStore, after: bigint, maxCount: number): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const batch = await store.readAll({ after: all[all.length - 1]?.position ?? after, maxCount });
    expect(batch.length).toBeLessThanOrEqual(maxCount);
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

function expectIncreasing(positions: bigint[]): void {
  const backwards = positions.findIndex((p, i) => i > 0 && p <= positions[i - 1]!);
  expect(backwards).toBe(-1);
}
