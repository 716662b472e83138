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
    while (!signal.aborted) {
      let handled: number;
      try {
        handled = await this.drainOnce();
      } catch (error) {
        this.logger.error({ err: error }, 'inbox worker failed; retrying');
        await sleep(1000, signal);
        continue;
      }
      if (handled === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollMs ?? 500);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
          signal.addEventListener('abort', () => this.wake?.(), { once: true });
        });
        this.wake = null;
      }
    }
  }
}
