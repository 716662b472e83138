import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import { StagedAppends, type CommandHandler } from '../commands/handle-command';
import {
  processStripeEvent,
  stageStripeEvent,
  type ProcessStripeEventResult,
} from '../commands/process-stripe-event';
import type { AppendOutcome, AppendRequest } from '../eventstore/port';
import type { Logger } from '../shared/logger';
import {
  settleInOrder,
  type CustomerEntries,
  type InboxEntry,
  type InboxOutcome,
  type Settlement,
} from './inbox';
import { mapWithConcurrency, type BatchProcessor } from './inbox-worker';

export interface StripeBatchProcessorOptions {
  handler: CommandHandler;
  /**
   * Appends on the batch's own transaction, so the events commit with the entries' outcomes
   * (PostgreSQL: appendManyWithin). Without it, the store's appendMany commits first: a crash
   * before the outcomes commit handles the entries again, which the handler recognises.
   */
  appendWithin?: (transaction: PoolClient, requests: AppendRequest[]) => Promise<AppendOutcome[]>;
  /** Customers decided at once (their cold streams are read concurrently). */
  concurrency?: number;
  logger: Logger;
  /** Each entry's result, e.g. for metrics. */
  onResult?: (entry: InboxEntry, outcome: InboxOutcome | 'failed') => void;
}

let lastBreath = performance.now();
/**
 * Decisions on cached state never wait for I/O, so a big batch would hold the event loop (and
 * the webhooks this process acknowledges) for its whole length: let it run every few ms.
 */
async function breathe(): Promise<void> {
  if (performance.now() - lastBreath < 5) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastBreath = performance.now();
}

export function inboxOutcomeOf(result: ProcessStripeEventResult): InboxOutcome {
  const status =
    result.outcome === 'applied'
      ? 'processed'
      : result.outcome === 'unhandled_type'
        ? 'unhandled'
        : 'invalid';
  return { status, detail: result };
}

/**
 * The inbox's Stripe events, a batch at a time: every customer's entries are decided in order
 * against its streams' cached state, then all of the batch's events go to the store in one
 * appendMany (one lock, one transaction), each customer's streams as one all-or-nothing group.
 * A customer whose group conflicts (another writer moved a stream, or some ids are already
 * stored) is released, its cache dropped, and handled next time one entry at a time.
 */
export function stripeBatchProcessor(options: StripeBatchProcessorOptions): BatchProcessor {
  const { handler, logger } = options;
  const oneByOne = new Set<string>();
  const report = (settlements: Settlement[]): Settlement[] => {
    for (const s of settlements)
      if ('outcome' in s) options.onResult?.(s.entry, s.outcome);
      else if ('error' in s) options.onResult?.(s.entry, 'failed');
    return settlements;
  };
  const onError = (entry: InboxEntry, error: unknown): void =>
    logger.error(
      { err: error, stripeEventId: entry.stripeEventId, attempts: entry.attempts + 1 },
      'inbox entry failed; will retry',
    );
  const processOne = async (entry: InboxEntry): Promise<InboxOutcome> =>
    inboxOutcomeOf(
      await processStripeEvent(handler.store, entry.payload, { correlationId: entry.stripeEventId, handler }),
    );

  return async (batch) => {
    const settlements: Settlement[] = [];
    const staged: { customer: CustomerEntries; unit: StagedAppends; settled: Settlement[] }[] = [];
    await mapWithConcurrency(batch.customers, options.concurrency ?? 32, async (customer) => {
      if (oneByOne.has(customer.customerKey)) {
        const settled = await settleInOrder(customer.entries, processOne, onError);
        if (settled.every((s) => 'outcome' in s)) oneByOne.delete(customer.customerKey);
        settlements.push(...settled);
        return;
      }
      const unit = new StagedAppends(handler, customer.customerKey);
      const settled: Settlement[] = [];
      for (const [i, entry] of customer.entries.entries()) {
        try {
          const result = await stageStripeEvent(unit, entry.payload, { correlationId: entry.stripeEventId });
          settled.push({ entry, outcome: inboxOutcomeOf(result) });
          await breathe();
        } catch (error) {
          // The customer's staged decisions may include part of this entry: none of them is appended.
          onError(entry, error);
          unit.forget();
          settlements.push(
            ...customer.entries.map((e, k): Settlement =>
              k === i ? { entry: e, error } : { entry: e, released: true },
            ),
          );
          return;
        }
      }
      staged.push({ customer, unit, settled });
    });

    // A stream is one customer's; should two customers' entries name the same stream, the later
    // customer waits for the next batch (one entry at a time), as appendMany takes a stream once.
    const streams = new Set<string>();
    const clashing = new Set<string>();
    for (const { customer, unit } of staged) {
      const names = unit.requests().map((r) => r.streamName);
      if (names.some((name) => streams.has(name))) clashing.add(customer.customerKey);
      else names.forEach((name) => streams.add(name));
    }
    const requests = staged
      .filter(({ customer }) => !clashing.has(customer.customerKey))
      .flatMap(({ unit }) => unit.requests());
    const outcomes = options.appendWithin
      ? await options.appendWithin(batch.transaction, requests)
      : await handler.store.appendMany(requests);
    const failedGroups = new Set([
      ...clashing,
      ...requests
        .filter((_, i) => outcomes[i]?.status !== 'appended' && outcomes[i]?.status !== 'replay')
        .map((r) => r.group),
    ]);
    for (const { customer, unit, settled } of staged) {
      if (failedGroups.has(customer.customerKey)) {
        unit.forget();
        oneByOne.add(customer.customerKey);
        const failures = outcomes.filter(
          (o, i) => requests[i]?.group === customer.customerKey && o.status === 'failed',
        );
        logger.warn(
          {
            customerKey: customer.customerKey,
            failures: failures.map((f) => f.status === 'failed' && f.error.message),
          },
          'inbox batch: append conflicted; the customer is retried one entry at a time',
        );
        settlements.push(...customer.entries.map((entry): Settlement => ({ entry, released: true })));
        continue;
      }
      settlements.push(...settled);
      // Without appendWithin the events are committed already, whatever becomes of the batch.
      batch.onEnd((committed) => unit.settle(outcomes, options.appendWithin ? committed : true));
    }
    return report(settlements);
  };
}
