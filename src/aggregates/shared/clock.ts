import { compareInstants } from './values';

/**
 * Where an aggregate stands in Stripe's timeline: the snapshot it last applied. Snapshots are
 * ordered by (terminal, Stripe `created`, Stripe event id): a terminal snapshot (cancelled,
 * deleted) outranks any live one, later beats earlier, and two snapshots of the same second
 * are told apart by event id, so every arrival order picks the same winner.
 */
export interface SnapshotClock {
  terminal: boolean;
  at: string;
  stripeEventId: string;
}

export function compareClocks(a: SnapshotClock, b: SnapshotClock): number {
  if (a.terminal !== b.terminal) return a.terminal ? 1 : -1;
  const byTime = compareInstants(a.at, b.at);
  if (byTime !== 0) return byTime;
  return a.stripeEventId < b.stripeEventId ? -1 : a.stripeEventId > b.stripeEventId ? 1 : 0;
}

/** Keeps the last `limit` ids: enough to recognise a redelivery, without growing forever. */
export function rememberId(ids: readonly string[], id: string, limit = 50): string[] {
  if (ids.includes(id)) return [...ids];
  return [...ids, id].slice(-limit);
}

/** Structural equality of plain JSON-like data (what events and state are made of). */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
