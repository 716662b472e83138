import type { Redis } from 'ioredis';
import type { BusEvent } from '../../bus/port';
import type { Entitlements } from './compute-entitlements';

/**
 * How the feature-access model folds a customer's events, kept pure so the same code answers
 * `?at=` by folding the event log up to an instant.
 */
export interface CustomerAccessProjection<State> {
  initial(customerId: string): State;
  /** Must never throw on unexpected data: return the state unchanged (and let the runner log). */
  apply(state: State, event: BusEvent): State;
  render(state: State, position: bigint): Entitlements;
  userIdOf(state: State): string | null;
}

interface Stored<State> {
  position: string;
  state: State;
}

/**
 * The feature-access read model in Redis. Per customer: the folded state and the position of
 * the last event it reflects (`state` key), the rendered entitlements answered on every request
 * (`doc` key), and the product user id → customer id mapping (`user` key). All three change in
 * one MULTI guarded by WATCH, and an event at or below the stored position is skipped, so
 * replays and redeliveries change nothing.
 */
export class RedisEntitlementsStore<State> {
  constructor(
    private readonly redis: Redis,
    private readonly projection: CustomerAccessProjection<State>,
    private readonly prefix = 'bl:ent:',
  ) {}

  private stateKey(customerId: string) {
    return `${this.prefix}state:${customerId}`;
  }
  private docKey(customerId: string) {
    return `${this.prefix}doc:${customerId}`;
  }
  private userKey(userId: string) {
    return `${this.prefix}user:${userId}`;
  }

  async applyBatch(events: BusEvent[]): Promise<{ applied: number; skipped: number }> {
    const byCustomer = new Map<string, BusEvent[]>();
    for (const event of events) {
      const list = byCustomer.get(event.customerId) ?? [];
      list.push(event);
      byCustomer.set(event.customerId, list);
    }
    let applied = 0;
    let skipped = 0;
    for (const [customerId, customerEvents] of byCustomer) {
      const result = await this.applyToCustomer(customerId, customerEvents);
      applied += result.applied;
      skipped += result.skipped;
    }
    return { applied, skipped };
  }

  private applyToCustomer(
    customerId: string,
    events: BusEvent[],
  ): Promise<{ applied: number; skipped: number }> {
    let applied = 0;
    return this.update(customerId, async (stored) => {
      let { position, state } = stored;
      applied = 0;
      for (const event of events) {
        const eventPosition = BigInt(event.position);
        if (eventPosition <= position) continue;
        state = this.projection.apply(state, event);
        position = eventPosition;
        applied += 1;
      }
      return applied === 0 ? null : { position, state };
    }).then(() => ({ applied, skipped: events.length - applied }));
  }

  /**
   * Replaces a customer's state with one computed elsewhere (a rebuild). `compute` sees what is
   * stored now, so a rebuild can fold in events the live consumer applied meanwhile.
   */
  replace(
    customerId: string,
    compute: (stored: { position: bigint; state: State }) => Promise<{ position: bigint; state: State }>,
  ): Promise<void> {
    return this.update(customerId, compute);
  }

  /**
   * The one way the model changes: read the customer's state under WATCH, compute the next one
   * (null: nothing to do), write state, answer and user mapping in one MULTI; retry if another
   * writer got there first (e.g. a partition rebalance, or a rebuild).
   */
  private async update(
    customerId: string,
    compute: (stored: {
      position: bigint;
      state: State;
    }) => Promise<{ position: bigint; state: State } | null>,
  ): Promise<void> {
    const key = this.stateKey(customerId);
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(key);
      const raw = await this.redis.get(key);
      const stored = raw
        ? (JSON.parse(raw) as Stored<State>)
        : { position: '0', state: this.projection.initial(customerId) };
      const next = await compute({ position: BigInt(stored.position), state: stored.state });
      if (next === null) {
        await this.redis.unwatch();
        return;
      }
      const previousUser = this.projection.userIdOf(stored.state);
      const userId = this.projection.userIdOf(next.state);
      const doc = this.projection.render(next.state, next.position);
      const multi = this.redis
        .multi()
        .set(key, JSON.stringify({ position: next.position.toString(), state: next.state }))
        .set(this.docKey(customerId), JSON.stringify(doc));
      if (previousUser && previousUser !== userId) multi.del(this.userKey(previousUser));
      if (userId) multi.set(this.userKey(userId), customerId);
      if ((await multi.exec()) !== null) return;
    }
    throw new Error(`Could not update ${customerId}: too many concurrent writers`);
  }

  /** The folded state and its position, or null for a customer never seen. */
  async getState(customerId: string): Promise<{ position: bigint; state: State } | null> {
    const raw = await this.redis.get(this.stateKey(customerId));
    if (!raw) return null;
    const stored = JSON.parse(raw) as Stored<State>;
    return { position: BigInt(stored.position), state: stored.state };
  }

  /** The rendered entitlements as stored, or null. */
  async getDocument(customerId: string): Promise<Entitlements | null> {
    const raw = await this.redis.get(this.docKey(customerId));
    return raw ? (JSON.parse(raw) as Entitlements) : null;
  }

  async customerIdForUser(userId: string): Promise<string | null> {
    return this.redis.get(this.userKey(userId));
  }
}
