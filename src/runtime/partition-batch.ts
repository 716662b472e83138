import { parseBusEvent, type BusEvent } from '../bus/port';
import { backoffDelay, sleep, type BackoffPolicy } from '../shared/async';
import { StoreLostError, type PartitionBatch, type ReadModel } from './read-model';
import { describeError, isTransient } from './transient';

/** One message of a partition as the broker hands it over. */
export interface RawMessage {
  offset: string;
  key: string | null;
  value: string | null;
}

/** What the runtime dead-letters: a message it cannot parse, or an event the model refused. */
export interface PoisonMessage {
  partition: number;
  offset: string;
  key: string | null;
  raw: string;
  reason: string;
  /** The parsed event, when the message was one. */
  event?: BusEvent;
}

/** What a retry loop needs: when to give up waiting, and how to stay in the group meanwhile. */
export interface RetryHooks {
  /** False once the batch must be left (stopping, rebalanced, restarting): it is fetched again later. */
  active(): boolean;
  /** Keeps the group membership alive while a batch waits for infrastructure. */
  heartbeat(): Promise<void>;
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  onRecovered?(): void;
  backoff?: BackoffPolicy;
  /** Cuts backoff waits short when the consumer stops. */
  signal?: AbortSignal;
  /** Longest single wait between heartbeats (ms): under the group's session timeout. */
  heartbeatEveryMs?: number;
}

export interface BatchHooks extends RetryHooks {
  model: ReadModel;
  /** Records a poison message durably; may throw a transient error (retried like apply). */
  deadLetter(letter: PoisonMessage): Promise<void>;
  onApplied?(batch: PartitionBatch): void;
}

/** The batch was left unfinished on purpose (see BatchHooks.active); nothing was committed for it. */
export class BatchAbandoned extends Error {
  constructor() {
    super('batch abandoned: the consumer is stopping or lost the partition');
    this.name = 'BatchAbandoned';
  }
}

type Outcome = { ok: true } | { ok: false; error: unknown };

/**
 * Handles one partition's batch and answers the offset to commit (last offset + 1).
 * Unparseable messages are dead-lettered; the batch is applied; a transient error retries it
 * with backoff, forever; StoreLostError goes up to the runtime; any other error isolates the
 * batch: each event is applied alone and the one that fails again is dead-lettered, its
 * checkpoint moved past it, and the rest go on.
 */
export async function handlePartitionBatch(
  hooks: BatchHooks,
  partition: number,
  messages: readonly RawMessage[],
): Promise<string> {
  const last = messages[messages.length - 1];
  if (!last) throw new Error('an empty batch has no offset to commit');
  const nextOffset = (BigInt(last.offset) + 1n).toString();
  const parsed: Array<{ event: BusEvent; offset: string; key: string | null; raw: string }> = [];
  for (const message of messages) {
    const raw = message.value ?? '';
    const result = parseBusEvent(raw);
    if (result.ok) parsed.push({ event: result.event, offset: message.offset, key: message.key, raw });
    else
      await retryTransient(hooks, () =>
        hooks.deadLetter({ partition, offset: message.offset, key: message.key, raw, reason: result.reason }),
      );
  }

  const whole = await applyOnce(hooks, { partition, events: parsed.map((p) => p.event), nextOffset });
  if (whole.ok) return nextOffset;
  if (parsed.length === 0) throw whole.error;

  for (const { event, offset, key, raw } of parsed) {
    const single: PartitionBatch = {
      partition,
      events: [event],
      nextOffset: (BigInt(offset) + 1n).toString(),
    };
    const alone = await applyOnce(hooks, single);
    if (alone.ok) continue;
    const reason = describeError(alone.error);
    await retryTransient(hooks, () => hooks.deadLetter({ partition, offset, key, raw, reason, event }));
    const past = await applyOnce(hooks, { ...single, events: [] });
    if (!past.ok) throw past.error;
  }
  if (BigInt(parsed[parsed.length - 1]?.offset ?? -1) + 1n < BigInt(nextOffset)) {
    // Unparseable messages at the end: only the checkpoint moves.
    const tail = await applyOnce(hooks, { partition, events: [], nextOffset });
    if (!tail.ok) throw tail.error;
  }
  return nextOffset;
}

/** Applies until it passes or fails for a reason other than infrastructure; StoreLostError is thrown. */
async function applyOnce(hooks: BatchHooks, batch: PartitionBatch): Promise<Outcome> {
  try {
    await retryTransient(hooks, () => hooks.model.apply(batch));
    hooks.onApplied?.(batch);
    return { ok: true };
  } catch (error) {
    if (error instanceof StoreLostError || error instanceof BatchAbandoned) throw error;
    return { ok: false, error };
  }
}

/** Runs `work` again after each transient failure, with backoff and heartbeats, while the batch is active. */
export async function retryTransient<T>(hooks: RetryHooks, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (!hooks.active()) throw new BatchAbandoned();
    try {
      const result = await work();
      if (attempt > 1) hooks.onRecovered?.();
      return result;
    } catch (error) {
      if (!isTransient(error)) throw error;
      const delay = backoffDelay(attempt, hooks.backoff);
      hooks.onRetry?.(error, attempt, delay);
      await waitWithHeartbeats(hooks, delay);
    }
  }
}

async function waitWithHeartbeats(hooks: RetryHooks, ms: number): Promise<void> {
  const slice = hooks.heartbeatEveryMs ?? 3000;
  for (let left = ms; left > 0 && hooks.active(); left -= slice) {
    await sleep(Math.min(slice, left), hooks.signal);
    // A failed heartbeat means a rebalance: active() turns false and the batch is left.
    await hooks.heartbeat().catch(() => undefined);
  }
}
