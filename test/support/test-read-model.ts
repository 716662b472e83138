import { randomUUID } from 'node:crypto';
import type { BusEvent } from '../../src/bus/port';
import type { PartitionBatch, ReadModel } from '../../src/runtime/read-model';

/** A bus event of `customerId` at log position `n`. */
export function testBusEvent(customerId: string, n: number): BusEvent {
  return {
    eventId: randomUUID(),
    type: 'Tested',
    streamName: `customer-${customerId}`,
    revision: n,
    position: String(n),
    customerId,
    data: { customerId, n },
    metadata: { schemaVersion: 1 },
    recordedAt: new Date().toISOString(),
  };
}

/**
 * A read model whose "store" is this object: the events it holds, how many times a successful
 * batch delivered each, and per-partition checkpoints, changed together per batch like a
 * transaction.
 */
export class TestReadModel implements ReadModel {
  /** Event id -> times it was applied by a batch that succeeded (or replayed). */
  readonly delivered = new Map<string, number>();
  readonly checkpoints = new Map<number, string>();
  readonly batches: PartitionBatch[] = [];
  prepares = 0;
  /** Runs before each apply and replay; throw to fail it. */
  fault: (batch: PartitionBatch) => void = () => undefined;

  constructor(readonly name = 'test-model') {}

  async prepare(): Promise<Map<number, string>> {
    this.prepares += 1;
    return new Map(this.checkpoints);
  }

  async apply(batch: PartitionBatch): Promise<void> {
    this.fault(batch);
    this.batches.push(batch);
    for (const event of batch.events) this.count(event);
    this.checkpoints.set(batch.partition, batch.nextOffset);
  }

  async replay(event: BusEvent): Promise<void> {
    this.fault({ partition: -1, events: [event], nextOffset: '0' });
    this.count(event);
  }

  has(events: readonly BusEvent[]): boolean {
    return events.every((e) => this.delivered.has(e.eventId));
  }

  /** Events delivered more than once. */
  doubled(): string[] {
    return [...this.delivered].filter(([, times]) => times > 1).map(([id]) => id);
  }

  private count(event: BusEvent): void {
    this.delivered.set(event.eventId, (this.delivered.get(event.eventId) ?? 0) + 1);
  }
}
