import type { Pool } from 'pg';

/** Where a follower of the log remembers how far it got. */
export interface CheckpointStore {
  load(name: string): Promise<bigint | undefined>;
  save(name: string, position: bigint): Promise<void>;
}

export class PostgresCheckpoints implements CheckpointStore {
  constructor(private readonly pool: Pool) {}

  async load(name: string): Promise<bigint | undefined> {
    const { rows } = await this.pool.query('SELECT position FROM checkpoints WHERE name = $1', [name]);
    return rows[0] ? BigInt(rows[0].position) : undefined;
  }

  async save(name: string, position: bigint): Promise<void> {
    // GREATEST: a checkpoint never moves backwards, even if two relays race.
    await this.pool.query(
      `INSERT INTO checkpoints (name, position) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET position = GREATEST(checkpoints.position, EXCLUDED.position), updated_at = now()`,
      [name, position.toString()],
    );
  }
}

export class MemoryCheckpoints implements CheckpointStore {
  private readonly positions = new Map<string, bigint>();

  async load(name: string): Promise<bigint | undefined> {
    return this.positions.get(name);
  }

  async save(name: string, position: bigint): Promise<void> {
    const current = this.positions.get(name);
    if (current === undefined || position > current) this.positions.set(name, position);
  }
}
