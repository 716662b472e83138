import type { RecordedEvent, SubscribeOptions } from './port';
import type { Wakeup } from './wakeup';

/** readAll without maxCount: the same batch on every adapter, so no caller relies on getting everything. */
export const DEFAULT_READ_BATCH = 1000;
export const DEFAULT_SUBSCRIPTION_BATCH = 500;

/**
 * Catch-up then live, for stores whose log can be read in batches by position (memory,
 * PostgreSQL). Pull-based: a batch is read only when the consumer has taken the previous one,
 * so a slow consumer holds at most one batch in memory.
 */
/** Ends every subscription of a store when the store closes, as well as on the caller's signal. */
export function untilClosed(options: SubscribeOptions, closing: AbortSignal): SubscribeOptions {
  return { ...options, signal: options.signal ? AbortSignal.any([options.signal, closing]) : closing };
}

export async function* followLog(
  readBatch: (after: bigint, maxCount: number) => Promise<RecordedEvent[]>,
  wakeup: Wakeup,
  options: SubscribeOptions,
  pollMs?: number,
): AsyncGenerator<RecordedEvent> {
  const { signal } = options;
  const batchSize = options.batchSize ?? DEFAULT_SUBSCRIPTION_BATCH;
  let after = options.after ?? 0n;
  while (!signal?.aborted) {
    const seen = wakeup.version;
    const batch = await readBatch(after, batchSize);
    for (const event of batch) {
      if (signal?.aborted) return;
      yield event;
      after = event.position;
    }
    if (batch.length < batchSize) await wakeup.waitAfter(seen, { signal, timeoutMs: pollMs });
  }
}
