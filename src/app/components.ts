import type { ComponentReport } from '../gateway/health-routes';
import { backoffDelay, sleep, withTimeout, type BackoffPolicy } from '../shared/async';
import type { Logger } from '../shared/logger';

/**
 * Background components of a running system (inbox worker, relay, consumers): each starts when
 * its dependencies answer and says where it is, for `/ready` and the logs.
 */
export type ComponentPhase = 'waiting' | 'running' | 'stopped' | 'crashed';

interface Entry {
  phase: ComponentPhase;
  since: Date;
  attempts: number;
  error?: string;
  details?: () => Record<string, unknown>;
}

export class ComponentBoard {
  private readonly entries = new Map<string, Entry>();

  set(name: string, phase: ComponentPhase, error?: unknown): void {
    const previous = this.entries.get(name);
    this.entries.set(name, {
      phase,
      since: previous?.phase === phase ? previous.since : new Date(),
      attempts: phase === 'waiting' && error !== undefined ? (previous?.attempts ?? 0) + 1 : 0,
      error: error === undefined ? undefined : errorMessage(error),
      details: previous?.details,
    });
  }

  /** Extra fields a component reports about itself (e.g. relay leadership). */
  describe(name: string, details: () => Record<string, unknown>): void {
    const entry = this.entries.get(name) ?? { phase: 'waiting', since: new Date(), attempts: 0 };
    this.entries.set(name, { ...entry, details });
  }

  phase(name: string): ComponentPhase | undefined {
    return this.entries.get(name)?.phase;
  }

  report(): Record<string, ComponentReport> {
    return Object.fromEntries(
      [...this.entries].map(([name, entry]) => [
        name,
        {
          status: entry.phase === 'running' ? 'ready' : 'degraded',
          state: entry.phase,
          since: entry.since.toISOString(),
          ...(entry.attempts ? { attempts: entry.attempts } : {}),
          ...(entry.error ? { error: entry.error } : {}),
          ...entry.details?.(),
        } satisfies ComponentReport,
      ]),
    );
  }
}

export interface RetryOptions {
  signal: AbortSignal;
  logger: Logger;
  /** The component whose phase stays `waiting` (with the last error) while this retries. */
  board?: { board: ComponentBoard; name: string };
  /** Gives up on one attempt after this long (it may still finish in the background). */
  attemptTimeoutMs?: number;
  backoff?: BackoffPolicy;
}

/**
 * Calls `attempt` until it succeeds, with backoff between failures. Resolves with `{ value }`, or
 * null when the signal aborted first. Never rejects: a dependency that is down only delays.
 */
export async function retryUntilReady<T>(
  what: string,
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<{ value: T } | null> {
  const {
    signal,
    logger,
    board,
    attemptTimeoutMs = 15_000,
    backoff = { initialMs: 250, maxMs: 10_000 },
  } = options;
  for (let failures = 0; !signal.aborted;) {
    try {
      const value = await untilAborted(
        withTimeout(
          Promise.resolve().then(attempt),
          attemptTimeoutMs,
          `${what}: no answer within ${attemptTimeoutMs} ms`,
        ),
        signal,
      );
      if (value === ABORTED) break;
      return { value };
    } catch (error) {
      failures += 1;
      if (signal.aborted) break;
      const delay = backoffDelay(failures, backoff);
      board?.board.set(board.name, 'waiting', error);
      // The first failures are expected while a dependency starts: say so once, then quietly.
      const level = failures === 1 || failures % 10 === 0 ? 'warn' : 'debug';
      logger[level](
        { err: errorMessage(error), attempt: failures, retryInMs: delay },
        `${what} not ready; retrying`,
      );
      await sleep(delay, signal);
    }
  }
  return null;
}

const ABORTED = Symbol('aborted');

/** Stop does not wait for an attempt in flight (a client's own retries may take long): it is left to fail alone. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
