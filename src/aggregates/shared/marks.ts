import { compareClocks } from './clock';

/**
 * Last-writer-wins per element (a payment method, a discount): the latest Stripe event about
 * an element decides whether it is there, whatever order the events arrive in.
 */
export interface Mark<T> {
  present: boolean;
  at: string;
  stripeEventId: string;
  value: T | null;
}

export type MarkVerdict = 'new' | 'duplicate' | 'stale';

export function judgeMark<T>(current: Mark<T> | undefined, at: string, stripeEventId: string): MarkVerdict {
  if (!current) return 'new';
  if (current.stripeEventId === stripeEventId) return 'duplicate';
  const order = compareClocks(
    { terminal: false, at, stripeEventId },
    { terminal: false, at: current.at, stripeEventId: current.stripeEventId },
  );
  return order > 0 ? 'new' : 'stale';
}

export const presentValues = <T>(marks: Record<string, Mark<T>>): T[] =>
  Object.keys(marks)
    .sort()
    .flatMap((id) => {
      const mark = marks[id];
      return mark?.present && mark.value !== null ? [mark.value] : [];
    });
