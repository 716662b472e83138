import { v5 as uuidV5 } from 'uuid';

/** Namespace of Billing Ledger's derived event ids (a fixed random UUID). */
export const EVENT_ID_NAMESPACE = '3f0d2a4e-8c1b-4d7e-9a55-6b2f0c9e1d47';

/** The id of the `index`-th event a cause (a Stripe event) leads to on a stream: a retried append carries the same ids. */
export const eventIdFor = (causationId: string, streamName: string, index: number): string =>
  uuidV5(`${causationId}/${streamName}/${index}`, EVENT_ID_NAMESPACE);
