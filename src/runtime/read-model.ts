import type { BusEvent } from '../bus/port';

/**
 * The one shape every read model and saga has for the consumer runtime (src/runtime).
 *
 * The runtime owns the Kafka consumer group: batches per partition, failure isolation,
 * retries, dead letters, restarts, shutdown, lag and readiness. A read model owns its store:
 * it applies a batch and makes the effect AND its per-partition checkpoint durable before it
 * returns; the runtime moves Kafka offsets only after that.
 */
export interface PartitionBatch {
  partition: number;
  /** Parsed events of this batch, in partition order (may be empty: only the checkpoint moves). */
  events: BusEvent[];
  /** The offset to resume from after this batch (last offset + 1), as a decimal string. */
  nextOffset: string;
}

export interface ReadModel {
  /** Stable name: the consumer group is `<namespace>.<name>`, metrics and dead letters carry it. */
  readonly name: string;
  /**
   * Called before consuming starts, and again after the model threw StoreLostError: verify the
   * store (e.g. a marker that tells an emptied or foreign Redis), rebuild from the event log if
   * needed, and answer the stored checkpoint per partition (the next offset to read). An empty map
   * means "no checkpoints of my own: resume from the group's committed offsets".
   */
  prepare(signal: AbortSignal): Promise<Map<number, string>>;
  /**
   * Applies one partition's batch; idempotent (a replayed event changes nothing). Throws
   * StoreLostError when the store lost its data (the runtime calls prepare() again), a transient
   * infrastructure error (the runtime retries with backoff), or anything else for a poison event
   * (the runtime isolates it, dead-letters it with the reason and goes on).
   */
  apply(batch: PartitionBatch): Promise<void>;
  /**
   * Re-applies a dead-lettered event once the cause is fixed (`billing-ledger dead-letters
   * replay`). Position guards would skip an old event, so a model may refold what it touches.
   */
  replay(event: BusEvent): Promise<void>;
}

/** Thrown by a read model whose store was emptied or replaced under it. */
export class StoreLostError extends Error {
  readonly code = 'READ_MODEL.STORE_LOST';
  constructor(
    readonly model: string,
    detail: string,
  ) {
    super(`${model}: ${detail}`);
    this.name = 'StoreLostError';
  }
}
