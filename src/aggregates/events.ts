import type { z } from 'zod';
import { customerEventSchemas, type CustomerEvent } from './customer/events';
import { subscriptionEventSchemas, type SubscriptionEvent } from './subscription/events';

/**
 * The catalogue of domain events: every type, its zod schema and its current schema version.
 * Stored events are read back through `parseDomainEvent`, which upcasts older versions first.
 */
export type DomainEvent = CustomerEvent | SubscriptionEvent;
export type DomainEventType = DomainEvent['type'];

export const domainEventSchemas: Record<DomainEventType, z.ZodType<Record<string, unknown>>> = {
  ...customerEventSchemas,
  ...subscriptionEventSchemas,
};

/** Current schema version per type: bump it, and add an upcaster from the old one, when a shape changes. */
export const schemaVersions: Record<DomainEventType, number> = Object.fromEntries(
  Object.keys(domainEventSchemas).map((type) => [type, 1]),
) as Record<DomainEventType, number>;

/** `upcasters[type][v]` turns data of version v into version v + 1. None yet. */
export const upcasters: Partial<Record<DomainEventType, Record<number, (data: unknown) => unknown>>> = {};

export class UnknownEventTypeError extends Error {
  readonly code = 'EVENT.UNKNOWN_TYPE';
  constructor(readonly eventType: string) {
    super(`Unknown domain event type ${eventType}`);
    this.name = 'UnknownEventTypeError';
  }
}

export class InvalidEventDataError extends Error {
  readonly code = 'EVENT.INVALID_DATA';
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly issues: string,
  ) {
    super(`Invalid ${eventType} v${schemaVersion}: ${issues}`);
    this.name = 'InvalidEventDataError';
  }
}

export function isDomainEventType(type: string): type is DomainEventType {
  return Object.prototype.hasOwnProperty.call(domainEventSchemas, type);
}

/** @throws UnknownEventTypeError, InvalidEventDataError */
export function parseDomainEvent(type: string, data: unknown, schemaVersion: number): DomainEvent {
  if (!isDomainEventType(type)) throw new UnknownEventTypeError(type);
  const current = schemaVersions[type];
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > current) {
    throw new InvalidEventDataError(type, schemaVersion, `schema version must be 1..${current}`);
  }
  let upcast = data;
  for (let v = schemaVersion; v < current; v++) {
    const step = upcasters[type]?.[v];
    if (!step) throw new InvalidEventDataError(type, schemaVersion, `no upcaster from v${v}`);
    upcast = step(upcast);
  }
  const parsed = domainEventSchemas[type].safeParse(upcast);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidEventDataError(type, schemaVersion, issues);
  }
  return { type, data: parsed.data } as DomainEvent;
}

export const isSubscriptionEvent = (e: DomainEvent): e is SubscriptionEvent =>
  e.type.startsWith('Subscription');
export const isCustomerEvent = (e: DomainEvent): e is CustomerEvent => e.type.startsWith('Customer');
