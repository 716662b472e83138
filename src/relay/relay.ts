import type { EventPublisher } from '../bus/port';
import { toBusEvent } from '../bus/port';
import type { EventStore } from '../eventstore/port';
import type { Logger } from '../shared/logger';
import type { CheckpointStore } from './checkpoints';

export interface RelayOptions {
  name?: string;
  batchSize?: number;
  /** How long to wait before looking again when the log has nothing new. */
  idleMs?: number;
  logger: Logger;
  onPublished?: (count: number) => void;
}

/**
 * Streams committed events from the log to the bus, in log order, checkpointed after the
 * broker acknowledged them. A crash between publish and checkpoint republishes the batch:
 * consumers are idempotent by position, so at-least-once here is exact downstream.
 */
export class Relay {
  private readonly name: string;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private position: bigint | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly publisher: EventPublisher,
    private readonly checkpoints: CheckpointStore,
    private readonly options: RelayOptions,
  ) {
    this.name = options.name ?? 'relay';
    this.batchSize = options.batchSize ?? 500;
    this.idleMs = options.idleMs ?? 50;
  }

  /** Publishes one batch; returns how many events it published. */
  async runOnce(): Promise<number> {
    this.position ??= (await this.checkpoints.load(this.name)) ?? 0n;
    const events = await this.store.readAll({ after: this.position, maxCount: this.batchSize });
    const last = events[events.length - 1];
    if (!last) return 0;
    await this.publisher.publish(events.map(toBusEvent));
    await this.checkpoints.save(this.name, last.position);
    this.position = last.position;
    this.options.onPublished?.(events.length);
    return events.length;
  }

  /** Runs until the signal aborts. Infrastructure errors are logged and retried with backoff. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const published = await this.runOnce();
        failures = 0;
        if (published < this.batchSize) await sleep(this.idleMs, signal);
      } catch (error) {
        failures += 1;
        this.position = undefined; // reload the checkpoint: the batch may or may not have gone out
        const delay = Math.min(10_000, 100 * 2 ** Math.min(failures, 7));
        this.options.logger.error({ err: error, relay: this.name, retryInMs: delay }, 'relay batch failed');
        await sleep(delay, signal);
      }
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
