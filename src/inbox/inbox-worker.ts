import { sleep } from '../shared/async';
import type { Logger } from '../shared/logger';
import {
  settleInOrder,
  type ClaimedBatch,
  type InboxEntry,
  type InboxOutcome,
  type PostgresInbox,
  type Settlement,
} from './inbox';

/** Handles a whole claimed batch inside its transaction (e.g. StripeBatchProcessor). */
export type BatchProcessor = (batch: ClaimedBatch) => Promise<Settlement[]>;

export interface InboxWorkerOptions {
  /** Entries per claimed batch. */
  batchSize?: number;
  /** Customers per claimed batch. */
  customersPerBatch?: number;
  /** Customers handled at once within a batch (per-entry mode). */
  concurrency?: number;
  /** Batches in flight at once (each its own transaction and customers): one plans while another commits. */
  loops?: number;
  pollMs?: number;
  /** Handle whole batches (appends committed with the outcomes) instead of one entry at a time. */
  processor?: BatchProcessor;
}

/**
 * Drains the inbox: each stored Stripe event becomes commands on the aggregates. Customers are
 * handled in parallel, each customer's entries in order, by one worker at a time (several
 * workers and instances may run: see PostgresInbox.processBatch). A kick after a webhook is
 * stored avoids waiting for the poll.
 */
export class InboxWorker {
  private readonly waiting = new Set<() => void>();
  private readonly processor: BatchProcessor;

  constructor(
    private readonly inbox: PostgresInbox,
    process: (entry: InboxEntry) => Promise<InboxOutcome>,
    private readonly logger: Logger,
    private readonly options: InboxWorkerOptions = {},
  ) {
    const onError = (entry: InboxEntry, error: unknown): void =>
      this.logger.error(
        { err: error, stripeEventId: entry.stripeEventId, attempts: entry.attempts + 1 },
        'inbox entry failed; will retry',
      );
    this.processor =
      options.processor ??
      (async ({ customers }) =>
        (
          await mapWithConcurrency(customers, options.concurrency ?? 16, ({ entries }) =>
            settleInOrder(entries, process, onError),
          )
        ).flat());
  }

  kick(): void {
    for (const wake of [...this.waiting]) wake();
  }

  /** One batch; returns how many entries it settled (released ones not counted). */
  async drainOnce(): Promise<number> {
    const settlements = await this.inbox.processBatch(
      {
        customers: this.options.customersPerBatch ?? 200,
        entries: this.options.batchSize ?? 1000,
      },
      this.processor,
    );
    return settlements.filter((s) => !('released' in s)).length;
  }

  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.kick();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.all(Array.from({ length: this.options.loops ?? 2 }, () => this.loop(signal)));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let handled: number;
      try {
        handled = await this.drainOnce();
      } catch (error) {
        this.logger.error({ err: error }, 'inbox worker failed; retrying');
        await sleep(1000, signal);
        continue;
      }
      if (handled === 0 && !signal.aborted) await this.idle();
    }
  }

  /** Waits for the next poll, or less when kicked or stopped. */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.options.pollMs ?? 500);
      this.waiting.add(done);
    });
  }
}

/** `work` on every item, at most `limit` at once; results in item order. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
