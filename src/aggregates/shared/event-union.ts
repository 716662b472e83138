import type { z } from 'zod';

/** The discriminated union `{ type, data }` of a catalogue of event schemas. */
export type EventUnionOf<Schemas extends Record<string, z.ZodType>> = {
  [K in keyof Schemas & string]: { type: K; data: z.infer<Schemas[K]> };
}[keyof Schemas & string];
