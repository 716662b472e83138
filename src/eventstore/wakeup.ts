/**
 * Wakes subscriptions waiting for new events. A version counter closes the lost-wakeup gap:
 * a subscriber notes the version before it reads, and a wait for that version returns at once
 * if anything was appended in between.
 */
export class Wakeup {
  private currentVersion = 0;
  private readonly waiters = new Set<() => void>();

  get version(): number {
    return this.currentVersion;
  }

  notify(): void {
    this.currentVersion += 1;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves when the version moves past `seen`, after `timeoutMs` (a poll), or on abort. */
  waitAfter(seen: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const { signal, timeoutMs } = options;
    if (this.currentVersion !== seen || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
