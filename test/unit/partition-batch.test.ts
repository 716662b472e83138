import { randomUUID } from 'node:crypto';
import type { BusEvent } from '../../src/bus/port';
import {
  BatchAbandoned,
  handlePartitionBatch,
  type BatchHooks,
  type PoisonMessage,
  type RawMessage,
} from '../../src/runtime/partition-batch';
import { StoreLostError, type PartitionBatch, type ReadModel } from '../../src/runtime/read-model';

function busEvent(n: number): BusEvent {
  return {
    eventId: randomUUID(),
    type: 'Tested',
    streamName: 'customer-cus_1',
    revision: n,
    position: String(n),
    customerId: 'cus_1',
    data: { customerId: 'cus_1', n },
    metadata: { schemaVersion: 1 },
    recordedAt: new Date(0).toISOString(),
  };
}

const message = (offset: number, value: string): RawMessage => ({
  offset: String(offset),
  key: 'cus_1',
  value,
});

/** A model that applies batches all-or-nothing and fails as each test tells it to. */
class FakeModel implements ReadModel {
  readonly name = 'fake';
  readonly applied: string[] = [];
  readonly checkpoints = new Map<number, string>();
  readonly calls: PartitionBatch[] = [];
  failWith: (batch: PartitionBatch) => unknown = () => undefined;

  async prepare(): Promise<Map<number, string>> {
    return new Map(this.checkpoints);
  }

  async apply(batch: PartitionBatch): Promise<void> {
    this.calls.push(batch);
    const error = this.failWith(batch);
    if (error) throw error;
    for (const event of batch.events)
      if (!this.applied.includes(event.eventId)) this.applied.push(event.eventId);
    this.checkpoints.set(batch.partition, batch.nextOffset);
  }

  async replay(): Promise<void> {}
}

function hooks(model: FakeModel, letters: PoisonMessage[], extra: Partial<BatchHooks> = {}): BatchHooks {
  return {
    model,
    deadLetter: async (letter) => void letters.push(letter),
    active: () => true,
    heartbeat: async () => undefined,
    backoff: { initialMs: 1, maxMs: 2 },
    ...extra,
  };
}

describe('handlePartitionBatch: one partition batch through a read model', () => {
  const events = [1, 2, 3, 4, 5].map(busEvent);
  const messages = events.map((e, i) => message(10 + i, JSON.stringify(e)));

  it('applies the whole batch once and answers the offset after its last message', async () => {
    const model = new FakeModel();
    expect(await handlePartitionBatch(hooks(model, []), 2, messages)).toBe('15');
    expect(model.calls).toEqual([{ partition: 2, events, nextOffset: '15' }]);
  });

  it('isolates a poison event: dead-letters it with its reason, applies the others one by one, and the checkpoint moves past it', async () => {
    const model = new FakeModel();
    const poison = events[2] as BusEvent;
    model.failWith = (batch) =>
      batch.events.some((e) => e.eventId === poison.eventId) ? new TypeError('tier of undefined') : undefined;
    const letters: PoisonMessage[] = [];

    expect(await handlePartitionBatch(hooks(model, letters), 0, messages)).toBe('15');

    expect(model.applied).toEqual([0, 1, 3, 4].map((i) => events[i]?.eventId));
    expect(letters).toEqual([
      {
        partition: 0,
        offset: '12',
        key: 'cus_1',
        raw: JSON.stringify(poison),
        reason: 'TypeError: tier of undefined',
        event: poison,
      },
    ]);
    // After the poison event: an empty batch moves the checkpoint past it before the next event.
    const afterPoison = model.calls.findIndex((c) => c.events[0]?.eventId === poison.eventId) + 1;
    expect(model.calls[afterPoison]).toEqual({ partition: 0, events: [], nextOffset: '13' });
    expect(model.checkpoints.get(0)).toBe('15');
  });

  it('moves the checkpoint past a poison event that is the last of the batch', async () => {
    const model = new FakeModel();
    const poison = events[4] as BusEvent;
    model.failWith = (batch) =>
      batch.events.some((e) => e.eventId === poison.eventId)
        ? new RangeError('Invalid time value')
        : undefined;
    const letters: PoisonMessage[] = [];
    await handlePartitionBatch(hooks(model, letters), 0, messages);
    expect(letters.map((l) => l.reason)).toEqual(['RangeError: Invalid time value']);
    expect(model.checkpoints.get(0)).toBe('15');
    expect(model.applied).toHaveLength(4);
  });

  it('dead-letters an unparseable message without handing it to the model, and still moves the checkpoint past it', async () => {
    const model = new FakeModel();
    const letters: PoisonMessage[] = [];
    const batch = [
      message(0, JSON.stringify(events[0])),
      message(1, 'not json'),
      message(2, '{"eventId":"x"}'),
    ];
    expect(await handlePartitionBatch(hooks(model, letters), 1, batch)).toBe('3');
    expect(letters.map((l) => [l.offset, l.event, l.reason.length > 0])).toEqual([
      ['1', undefined, true],
      ['2', undefined, true],
    ]);
    expect(letters[0]?.reason).toBe('message is not JSON');
    expect(model.calls).toEqual([{ partition: 1, events: [events[0]], nextOffset: '3' }]);
  });

  it('retries the same batch after transient errors until it passes, applying nothing twice and dead-lettering nothing', async () => {
    const model = new FakeModel();
    let failures = 3;
    model.failWith = () =>
      failures-- > 0 ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined;
    const retries: number[] = [];
    const letters: PoisonMessage[] = [];
    let recovered = 0;
    const result = await handlePartitionBatch(
      hooks(model, letters, {
        onRetry: (_e, attempt) => retries.push(attempt),
        onRecovered: () => recovered++,
      }),
      0,
      messages,
    );
    expect(result).toBe('15');
    expect(retries).toEqual([1, 2, 3]);
    expect(recovered).toBe(1);
    expect(model.calls.map((c) => c.events.length)).toEqual([5, 5, 5, 5]);
    expect(model.applied).toEqual(events.map((e) => e.eventId));
    expect(letters).toEqual([]);
  });

  it('throws StoreLostError up to the runtime without isolating or dead-lettering', async () => {
    const model = new FakeModel();
    model.failWith = () => new StoreLostError('fake', 'marker missing');
    const letters: PoisonMessage[] = [];
    await expect(handlePartitionBatch(hooks(model, letters), 0, messages)).rejects.toBeInstanceOf(
      StoreLostError,
    );
    expect(model.calls).toHaveLength(1);
    expect(letters).toEqual([]);
  });

  it('leaves a batch that keeps failing on infrastructure once the consumer stops, committing nothing', async () => {
    const model = new FakeModel();
    model.failWith = () => Object.assign(new Error('Connection terminated unexpectedly'), {});
    let active = true;
    const result = handlePartitionBatch(
      hooks(model, [], { onRetry: (_e, attempt) => (active = attempt < 2), active: () => active }),
      0,
      messages,
    );
    await expect(result).rejects.toBeInstanceOf(BatchAbandoned);
    expect(model.applied).toEqual([]);
  });
});
