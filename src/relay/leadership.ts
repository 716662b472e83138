import { Client, type ClientConfig } from 'pg';

/** A stable advisory-lock key for a name (e.g. the relay's checkpoint name): FNV-1a, as a signed 32-bit integer. */
export function leaderLockKey(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash | 0;
}

/** Who may relay: one instance at a time. */
export interface Leadership {
  /** Held right now, as far as this instance knows. */
  readonly isLeader: boolean;
  /** Takes leadership when free, or confirms it is still held; answers whether it is held. */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * Leadership as a session-level advisory lock on a connection of its own: PostgreSQL releases it
 * when that session ends (process killed, connection lost), and another instance's next attempt
 * takes it. While leading, each acquire() also checks the connection (at most every
 * `heartbeatMs`), so a leader whose connection died stops within about that long.
 */
export class PostgresLeaderLock implements Leadership {
  private client: Client | undefined;
  private leader = false;
  private lastCheck = 0;

  constructor(
    private readonly connection: ClientConfig,
    private readonly key: number,
    private readonly options: { heartbeatMs?: number } = {},
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  async acquire(): Promise<boolean> {
    try {
      const client = await this.connect();
      if (this.leader) {
        if (Date.now() - this.lastCheck >= (this.options.heartbeatMs ?? 1000)) {
          await client.query('SELECT 1');
          this.lastCheck = Date.now();
        }
        return this.leader;
      }
      const { rows } = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1) AS held', [
        this.key,
      ]);
      this.leader = rows[0]?.held === true;
      this.lastCheck = Date.now();
      return this.leader;
    } catch {
      this.drop();
      return false;
    }
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leader = false;
    // Ending the session releases the lock.
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({ ...this.connection, application_name: 'billing-ledger relay leader' });
    client.on('error', () => this.drop());
    client.on('end', () => {
      if (this.client === client) this.drop();
    });
    this.client = client;
    try {
      await client.connect();
    } catch (error) {
      this.drop();
      throw error;
    }
    return client;
  }

  private drop(): void {
    const client = this.client;
    this.client = undefined;
    this.leader = false;
    void client?.end().catch(() => undefined);
  }
}

/** For tests: instances sharing one MemoryLeaderBoard compete for one leadership. */
export class MemoryLeaderBoard {
  holder: MemoryLeadership | undefined;

  member(): MemoryLeadership {
    return new MemoryLeadership(this);
  }
}

export class MemoryLeadership implements Leadership {
  constructor(private readonly board: MemoryLeaderBoard) {}

  get isLeader(): boolean {
    return this.board.holder === this;
  }

  async acquire(): Promise<boolean> {
    this.board.holder ??= this;
    return this.isLeader;
  }

  async release(): Promise<void> {
    this.lose();
  }

  /** As if its connection died: the lock is free for the others. */
  lose(): void {
    if (this.board.holder === this) this.board.holder = undefined;
  }
}
