import type { Logger } from '../shared/logger';
import { sleep } from '../relay/relay';
import type { InboxEntry, InboxOutcome, PostgresInbox } from './inbox';

/**
 * Drains the inbox: each stored Stripe event becomes commands on the aggregates. Several
 * workers may run (SKIP LOCKED); a kick after a webhook is stored avoids waiting for the poll.
 */
export class InboxWorker {
  private wake: (() => void) | null = null;

  constructor(
    private readonly inbox: PostgresInbox,
    private readonly process: (entry: InboxEntry) => Promise<InboxOutcome>,
    private readonly logger: Logger,
    private readonly options: { batchSize?: number; pollMs?: number } = {},
  ) {}

  kick(): void {
    this.wake?.();
  }

  async drainOnce(): Promise<number> {
    return this.inbox.processDue(this.options.batchSize ?? 50, this.process, (entry, error) =>
      this.logger.error(
        { err: error, stripeEventId: entry.stripeEventId, attempts: entry.attempts + 1 },
        'inbox entry failed; will retry',
      ),
    );
  }

  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
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
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Waits for the next poll, or less when kicked or stopped. */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, this.options.pollMs ?? 500);
      this.wake = done;
    });
  }
}
