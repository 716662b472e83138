import type { BusEvent, EventPublisher } from '../bus/port';
import { toBusEvent } from '../bus/port';
import type { AppendSignal, EventStore } from '../eventstore/port';
import { sleep } from '../shared/async';
import type { Logger } from '../shared/logger';
import type { CheckpointStore } from './checkpoints';
import type { Leadership } from './leadership';

export { sleep };

export interface RelayOptions {
  name?: string;
  batchSize?: number;
  /**
   * How long to wait before looking again when the log has nothing new. With a `wakeup` this is
   * only the fallback poll (a lost notification costs that much latency).
   */
  idleMs?: number;
  /** Woken by appends (the store's changes(): LISTEN/NOTIFY on PostgreSQL), instead of polling every idleMs. */
  wakeup?: AppendSignal;
  /** Only the leader relays: several instances are then safe. Without it, this relay always runs. */
  leadership?: Leadership;
  /**
   * At most this many bytes of messages per publish (default 512 KiB): a batch that all goes to
   * one partition stays under Kafka's default 1 MB per record batch. The rest goes next time.
   */
  maxBatchBytes?: number;
  /** How often a relay that is not the leader tries again. */
  leadershipRetryMs?: number;
  logger: Logger;
  onPublished?: (count: number) => void;
}

/**
 * Streams committed events from the log to the bus, in log order, checkpointed after the
 * broker acknowledged them. A crash between publish and checkpoint republishes the batch:
 * consumers are idempotent by position, so at-least-once here is exact downstream. With a
 * leadership, a relay that takes over starts from the saved checkpoint, so each event is
 * published once per leadership.
 */
export class Relay {
  private readonly name: string;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private position: bigint | undefined;
  private leading = false;

  constructor(
    private readonly store: EventStore,
    private readonly publisher: EventPublisher,
    private readonly checkpoints: CheckpointStore,
    private readonly options: RelayOptions,
  ) {
    this.name = options.name ?? 'relay';
    this.batchSize = options.batchSize ?? 1000;
    this.idleMs = options.idleMs ?? (options.wakeup ? 1000 : 50);
  }

  /** For /ready: whether this instance relays now (always true without a leadership). */
  get isLeader(): boolean {
    return this.options.leadership ? this.leading && this.options.leadership.isLeader : true;
  }

  /** Publishes one batch; returns how many events it published. */
  async runOnce(): Promise<number> {
    this.position ??= (await this.checkpoints.load(this.name)) ?? 0n;
    const read = await this.store.readAll({ after: this.position, maxCount: this.batchSize });
    if (this.options.leadership && !this.options.leadership.isLeader) return 0;
    const messages = this.fitting(read.map(toBusEvent));
    const events = read.slice(0, messages.length);
    const last = events[events.length - 1];
    if (!last) return 0;
    await this.publisher.publish(messages);
    await this.checkpoints.save(this.name, last.position);
    this.position = last.position;
    this.options.onPublished?.(events.length);
    return events.length;
  }

  /** Runs until the signal aborts. Infrastructure errors are logged and retried with backoff. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    try {
      while (!signal.aborted) {
        if (!(await this.lead())) {
          await sleep(this.options.leadershipRetryMs ?? 1000, signal);
          continue;
        }
        try {
          const seen = this.options.wakeup?.version ?? 0;
          const published = await this.runOnce();
          failures = 0;
          if (published < this.batchSize) await this.idle(seen, signal);
        } catch (error) {
          failures += 1;
          this.position = undefined; // reload the checkpoint: the batch may or may not have gone out
          const delay = Math.min(10_000, 100 * 2 ** Math.min(failures, 7));
          this.options.logger.error({ err: error, relay: this.name, retryInMs: delay }, 'relay batch failed');
          await sleep(delay, signal);
        }
      }
    } finally {
      this.leading = false;
      await this.options.leadership?.release().catch(() => undefined);
    }
  }

  /** The longest prefix within maxBatchBytes (at least one message, whatever its size). */
  private fitting(messages: BusEvent[]): BusEvent[] {
    const limit = this.options.maxBatchBytes ?? 512 * 1024;
    let bytes = 0;
    for (const [i, message] of messages.entries()) {
      bytes += Buffer.byteLength(JSON.stringify(message)) + 64;
      if (bytes > limit && i > 0) return messages.slice(0, i);
    }
    return messages;
  }

  /** Takes or confirms leadership; on taking it, starts again from the saved checkpoint. */
  private async lead(): Promise<boolean> {
    const leadership = this.options.leadership;
    if (!leadership) return true;
    const leader = await leadership.acquire().catch(() => false);
    if (leader && !this.leading) {
      this.position = undefined;
      this.options.logger.info({ relay: this.name }, 'relay: leadership taken; relaying from the checkpoint');
    } else if (!leader && this.leading) {
      this.options.logger.warn({ relay: this.name }, 'relay: leadership lost; stopped relaying');
    }
    this.leading = leader;
    return leader;
  }

  private idle(seen: number, signal: AbortSignal): Promise<void> {
    return this.options.wakeup
      ? this.options.wakeup.waitAfter(seen, { signal, timeoutMs: this.idleMs })
      : sleep(this.idleMs, signal);
  }
}
