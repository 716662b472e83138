import { customerDecider } from '../aggregates/customer/decide';
import { fromUnixSeconds } from '../aggregates/shared/values';
import { customerStreamOf } from '../aggregates/customer/stream';
import type { DomainEvent } from '../aggregates/events';
import { subscriptionDecider } from '../aggregates/subscription/decide';
import { subscriptionStreamOf } from '../aggregates/subscription/stream';
import type { EventStore } from '../eventstore/port';
import type { Decider } from '../shared/decider';
import {
  handlerFor,
  type CommandHandler,
  type StagedAppends,
  type CommandContext,
  type HandleCommandOptions,
  type HandleCommandResult,
} from './handle-command';
import { describeIssues, stripeEventEnvelope } from './stripe/schemas';
import { translateStripeEvent, type RoutedCommand } from './stripe/translate';

export interface ProcessStripeEventResult {
  outcome: 'applied' | 'unhandled_type' | 'invalid';
  reason?: string;
  stripeEventId?: string;
  stripeEventType?: string;
  /** Per stream touched, the events this call appended (0 for a redelivery). */
  appended: { streamName: string; count: number }[];
}

/** Where a routed command goes: its decider and, beside it, its stream. */
function handleRouted(
  target: CommandTarget,
  routed: RoutedCommand,
  ctx: CommandContext,
  options?: HandleCommandOptions,
): Promise<HandleCommandResult> {
  return routed.aggregate === 'customer'
    ? target.handle(customerStreamOf(routed.command), customerDecider, routed.command, ctx, options)
    : target.handle(subscriptionStreamOf(routed.command), subscriptionDecider, routed.command, ctx, options);
}

/** Handles a command now (CommandHandler) or stages it for a batched append (StagedAppends). */
interface CommandTarget {
  handle<C, E extends DomainEvent, S>(
    streamName: string,
    decider: Decider<C, E, S>,
    command: C,
    ctx: CommandContext,
    options?: HandleCommandOptions,
  ): Promise<HandleCommandResult>;
}

/**
 * One Stripe event, start to end: parse the envelope, translate to commands, handle each.
 * Idempotent: the event ids derive from the Stripe event id, so a redelivery stores nothing
 * twice (see CommandHandler). Bad input is answered `invalid` with the reason and writes
 * nothing; an unknown type is answered `unhandled_type`.
 */
export function processStripeEvent(
  store: EventStore,
  stripeEvent: unknown,
  context: { correlationId?: string; handler?: CommandHandler } & HandleCommandOptions = {},
): Promise<ProcessStripeEventResult> {
  const handler = context.handler ?? handlerFor(store);
  return run(
    { handle: (stream, decider, command, ctx) => handler.handle(stream, decider, command, ctx, context) },
    stripeEvent,
    context,
  );
}

/**
 * The same as processStripeEvent, but the decisions are staged (each command sees the ones
 * staged before it) and appended later by the caller, with others, in one appendMany.
 */
export function stageStripeEvent(
  staged: StagedAppends,
  stripeEvent: unknown,
  context: { correlationId?: string } = {},
): Promise<ProcessStripeEventResult> {
  return run(
    { handle: (stream, decider, command, ctx) => staged.decide(stream, decider, command, ctx) },
    stripeEvent,
    context,
  );
}

async function run(
  target: CommandTarget,
  stripeEvent: unknown,
  context: { correlationId?: string } & HandleCommandOptions,
): Promise<ProcessStripeEventResult> {
  const envelope = stripeEventEnvelope.safeParse(stripeEvent);
  if (!envelope.success)
    return { outcome: 'invalid', reason: describeIssues(envelope.error, 'Stripe event'), appended: [] };
  const event = envelope.data;
  const about = { stripeEventId: event.id, stripeEventType: event.type };
  const translation = translateStripeEvent(event);
  if (translation.kind === 'unhandled')
    return { outcome: 'unhandled_type', reason: translation.reason, ...about, appended: [] };
  if (translation.kind === 'invalid')
    return { outcome: 'invalid', reason: translation.reason, ...about, appended: [] };

  const ctx: CommandContext = {
    causationId: event.id,
    correlationId: context.correlationId ?? event.id,
    stripeEventId: event.id,
    stripeEventType: event.type,
    occurredAt: fromUnixSeconds(event.created),
    source: 'stripe',
  };
  const appended: ProcessStripeEventResult['appended'] = [];
  for (const routed of translation.commands) {
    const result = await handleRouted(target, routed, ctx, context);
    appended.push({ streamName: result.streamName, count: result.count });
  }
  return {
    outcome: 'applied',
    ...(translation.note ? { reason: translation.note } : {}),
    ...about,
    appended,
  };
}
