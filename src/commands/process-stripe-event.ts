import { customerDecider } from '../aggregates/customer/decide';
import { fromUnixSeconds } from '../aggregates/shared/values';
import { customerStream, subscriptionStream } from '../aggregates/streams';
import { subscriptionDecider } from '../aggregates/subscription/decide';
import type { EventStore } from '../eventstore/port';
import {
  handleCommand,
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

function handleRouted(
  store: EventStore,
  routed: RoutedCommand,
  ctx: CommandContext,
  options?: HandleCommandOptions,
): Promise<HandleCommandResult> {
  if (routed.aggregate === 'customer') {
    const customerId =
      routed.command.type === 'SyncCustomer' ? routed.command.snapshot.customerId : routed.command.customerId;
    return handleCommand(store, customerStream(customerId), customerDecider, routed.command, ctx, options);
  }
  const subscriptionId =
    'snapshot' in routed.command ? routed.command.snapshot.subscriptionId : routed.command.subscriptionId;
  return handleCommand(
    store,
    subscriptionStream(subscriptionId),
    subscriptionDecider,
    routed.command,
    ctx,
    options,
  );
}

/**
 * One Stripe event, start to end: parse the envelope, translate to commands, handle each.
 * Idempotent: the event ids derive from the Stripe event id, and a stream that already holds
 * events caused by this Stripe event gets nothing more. Bad input is answered `invalid` with
 * the reason and writes nothing; an unknown type is answered `unhandled_type`.
 */
export async function processStripeEvent(
  store: EventStore,
  stripeEvent: unknown,
  context: { correlationId?: string } & HandleCommandOptions = {},
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
    const result = await handleRouted(store, routed, ctx, context);
    appended.push({ streamName: result.streamName, count: result.count });
  }
  return {
    outcome: 'applied',
    ...(translation.note ? { reason: translation.note } : {}),
    ...about,
    appended,
  };
}
