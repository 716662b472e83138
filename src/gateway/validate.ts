import type { z } from 'zod';
import { customerId as domainCustomerId } from '../aggregates/shared/values';
import { HttpError } from './http-error';

/** 400 REQUEST.INVALID_PARAMETER, naming the parameter in the sentence and in `details.parameter`. */
export function invalidParameter(parameter: string, message: string): HttpError {
  return new HttpError(400, 'REQUEST.INVALID_PARAMETER', message, { parameter });
}

/**
 * Parses a path or query value with zod, or answers 400 naming it. `what` names the value; for
 * an object (a whole query), the first failing key is the parameter.
 */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const message = result.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : what} ${i.message}`)
      .join('; ');
    const first = result.error.issues[0];
    const named = first?.code === 'unrecognized_keys' ? first.keys[0] : first?.path[0];
    throw invalidParameter(typeof named === 'string' ? named : what, `Invalid ${what}: ${message}.`);
  }
  return result.data;
}

/** A Stripe customer id in a path: the domain's rule, with a length bound. */
export const customerIdParam = domainCustomerId.max(68, 'must be at most 68 characters');
