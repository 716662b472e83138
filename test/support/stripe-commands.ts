import { stripeEventEnvelope } from '../../src/commands/stripe/schemas';
import { translateStripeEvent, type RoutedCommand } from '../../src/commands/stripe/translate';

/** For tests: the commands a Stripe event payload translates to (throws when it does not). */
export function commandsFrom(stripeEvent: unknown): RoutedCommand['command'][] {
  const translation = translateStripeEvent(stripeEventEnvelope.parse(stripeEvent));
  if (translation.kind !== 'commands')
    throw new Error(`expected commands, got ${translation.kind}: ${translation.reason}`);
  return translation.commands.map((c) => c.command);
}

export function commandFrom<C extends RoutedCommand['command'] = RoutedCommand['command']>(
  stripeEvent: unknown,
): C {
  const [command, ...rest] = commandsFrom(stripeEvent);
  if (!command || rest.length > 0) throw new Error('expected exactly one command');
  return command as C;
}
