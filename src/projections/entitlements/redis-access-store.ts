import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Entitlements } from './compute-entitlements';
import type { CustomerAccessState } from './entitlements-projection';

/**
 * Feature access in Redis. Keys, under a prefix:
 *   cust:<customerId>  hash  p = position of the last event reflected, s = the folded document,
 *                            d = the rendered entitlements answered on every request
 *   user:<userId>      the product's user id -> customer id
 *   meta               the event log identity the model was built from (the marker)
 *   ckpt               hash  Kafka partition -> next offset, written after the batch's effects
 *   rebuild-lock       held by the one process rebuilding the model from the log
 *
 * Every write is a Lua script that checks the marker first: on an emptied or foreign Redis it
 * writes nothing, so a write never lands on data the model did not build. A customer write is
 * a compare-and-set on the stored position, so a concurrent writer (a rebuild, the previous
 * owner of a partition after a rebalance) is detected and the caller folds again.
 */

/** What is stored for a customer: the position of the last event reflected and the document. */
export interface StoredCustomer {
  position: bigint;
  state: CustomerAccessState;
}

export interface CustomerWrite {
  customerId: string;
  /** The position read before folding (null: the customer was absent): the compare of compare-and-set. */
  expected: bigint | null;
  position: bigint;
  state: CustomerAccessState;
  doc: Entitlements;
  previousUserId: string | null;
  userId: string | null;
}

export type WriteOutcome = 'written' | 'conflict' | 'store-lost';

class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

// KEYS: marker, customer, user key to drop ('' for none), user key to set ('' for none)
// ARGV: log identity, expected position ('' when absent), position, state, doc, customer id
const WRITE_CUSTOMER = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if (redis.call('HGET', KEYS[2], 'p') or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], 'p', ARGV[3], 's', ARGV[4], 'd', ARGV[5])
if KEYS[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[6] then redis.call('DEL', KEYS[3]) end
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[6]) end
return 1`);

// KEYS: marker, checkpoints. ARGV: log identity, partition, next offset
const WRITE_CHECKPOINT = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`);

// A full rebuild writes while the marker is absent, so its writes are guarded by the lock instead.
// KEYS: lock, customer, user key to set ('' for none). ARGV: token, position, state, doc, customer id
const WRITE_REBUILT = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[2], 'p', ARGV[2], 's', ARGV[3], 'd', ARGV[4])
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[5]) end
return 1`);

// KEYS: lock, then the keys to remove. ARGV: token
const UNLINK_HOLDING_LOCK = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 2, #KEYS do redis.call('UNLINK', KEYS[i]) end
return 1`);

// KEYS: lock, marker. ARGV: token, log identity
const SET_MARKER = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`);

// KEYS: lock. ARGV: token, ttl ms (0: release)
const HOLD_LOCK = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

const SCRIPTS = [WRITE_CUSTOMER, WRITE_CHECKPOINT, WRITE_REBUILT, UNLINK_HOLDING_LOCK, SET_MARKER, HOLD_LOCK];

type Call = { script: LuaScript; keys: string[]; args: (string | number)[] };

export class RedisAccessStore {
  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {}

  private customerKey = (customerId: string) => `${this.prefix}cust:${customerId}`;
  private userKey = (userId: string) => `${this.prefix}user:${userId}`;
  private get markerKey() {
    return `${this.prefix}meta`;
  }
  private get checkpointKey() {
    return `${this.prefix}ckpt`;
  }
  get lockKey(): string {
    return `${this.prefix}rebuild-lock`;
  }

  /** One round trip for every customer of a batch. */
  async readCustomers(customerIds: readonly string[]): Promise<Map<string, StoredCustomer | null>> {
    const pipeline = this.redis.pipeline();
    for (const id of customerIds) pipeline.hmget(this.customerKey(id), 'p', 's');
    const results = await exec(pipeline);
    const stored = new Map<string, StoredCustomer | null>();
    customerIds.forEach((id, i) => {
      const [position, state] = results[i] as [string | null, string | null];
      stored.set(
        id,
        position !== null && state !== null
          ? { position: BigInt(position), state: JSON.parse(state) as CustomerAccessState }
          : null,
      );
    });
    return stored;
  }

  /** One pipelined round trip: a compare-and-set script per customer. */
  async writeCustomers(identity: string, writes: readonly CustomerWrite[]): Promise<WriteOutcome[]> {
    const results = await this.run(
      writes.map((w) => ({
        script: WRITE_CUSTOMER,
        keys: [
          this.markerKey,
          this.customerKey(w.customerId),
          w.previousUserId && w.previousUserId !== w.userId ? this.userKey(w.previousUserId) : '',
          w.userId ? this.userKey(w.userId) : '',
        ],
        args: [
          identity,
          w.expected === null ? '' : w.expected.toString(),
          w.position.toString(),
          JSON.stringify(w.state),
          JSON.stringify(w.doc),
          w.customerId,
        ],
      })),
    );
    return results.map((r) => (r === 1 ? 'written' : r === 0 ? 'conflict' : 'store-lost'));
  }

  /** False when the marker is not this log's: nothing was written. */
  async writeCheckpoint(identity: string, partition: number, nextOffset: string): Promise<boolean> {
    const [result] = await this.run([
      {
        script: WRITE_CHECKPOINT,
        keys: [this.markerKey, this.checkpointKey],
        args: [identity, partition, nextOffset],
      },
    ]);
    return result === 1;
  }

  async checkpoints(): Promise<Map<number, string>> {
    const all = await this.redis.hgetall(this.checkpointKey);
    return new Map(Object.entries(all).map(([partition, offset]) => [Number(partition), offset]));
  }

  marker(): Promise<string | null> {
    return this.redis.get(this.markerKey);
  }

  async getDocument(customerId: string): Promise<Entitlements | null> {
    const raw = await this.redis.hget(this.customerKey(customerId), 'd');
    return raw ? (JSON.parse(raw) as Entitlements) : null;
  }

  customerIdForUser(userId: string): Promise<string | null> {
    return this.redis.get(this.userKey(userId));
  }

  // ---- full rebuild, under the lock ----

  async acquireLock(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.lockKey, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Extends the lock (false: it was lost); ttlMs 0 releases it. */
  async holdLock(token: string, ttlMs: number): Promise<boolean> {
    const [result] = await this.run([{ script: HOLD_LOCK, keys: [this.lockKey], args: [token, ttlMs] }]);
    return result === 1;
  }

  /** Removes every key of the model but the lock (the marker first). False: the lock was lost. */
  async wipe(token: string): Promise<boolean> {
    if (!(await this.unlink(token, [this.markerKey]))) return false;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.prefix)}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      const doomed = keys.filter((key) => key !== this.lockKey);
      if (doomed.length && !(await this.unlink(token, doomed))) return false;
    } while (cursor !== '0');
    return true;
  }

  private async unlink(token: string, keys: string[]): Promise<boolean> {
    const [result] = await this.run([
      { script: UNLINK_HOLDING_LOCK, keys: [this.lockKey, ...keys], args: [token] },
    ]);
    return result === 1;
  }

  /** False: the lock was lost (another process took over the rebuild). */
  async writeRebuilt(token: string, writes: readonly Omit<CustomerWrite, 'expected' | 'previousUserId'>[]) {
    const results = await this.run(
      writes.map((w) => ({
        script: WRITE_REBUILT,
        keys: [this.lockKey, this.customerKey(w.customerId), w.userId ? this.userKey(w.userId) : ''],
        args: [token, w.position.toString(), JSON.stringify(w.state), JSON.stringify(w.doc), w.customerId],
      })),
    );
    return results.every((r) => r === 1);
  }

  async setMarker(token: string, identity: string): Promise<boolean> {
    const [result] = await this.run([
      { script: SET_MARKER, keys: [this.lockKey, this.markerKey], args: [token, identity] },
    ]);
    return result === 1;
  }

  /**
   * Runs scripts in one pipeline by their sha. A Redis that restarted has forgotten them:
   * the calls answered NOSCRIPT did not run, so they are loaded and sent again.
   */
  private async run(calls: readonly Call[]): Promise<number[]> {
    const results: number[] = new Array<number>(calls.length);
    let pending = calls.map((_, i) => i);
    for (let attempt = 0; pending.length > 0; attempt++) {
      const pipeline = this.redis.pipeline();
      for (const i of pending) {
        const { script, keys, args } = calls[i]!;
        pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
      }
      const answers = (await pipeline.exec()) ?? [];
      const missing: number[] = [];
      pending.forEach((i, j) => {
        const [error, value] = answers[j] ?? [new Error('no answer'), null];
        if (error && /NOSCRIPT/.test(error.message) && attempt < 2) missing.push(i);
        else if (error) throw error;
        else results[i] = Number(value);
      });
      if (missing.length) await exec(this.loadScripts());
      pending = missing;
    }
    return results;
  }

  private loadScripts(): ChainableCommander {
    const pipeline = this.redis.pipeline();
    for (const script of SCRIPTS) pipeline.script('LOAD', script.source);
    return pipeline;
  }
}

async function exec(pipeline: ChainableCommander): Promise<unknown[]> {
  const answers = (await pipeline.exec()) ?? [];
  return answers.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
