import { subscriptionStream } from '../streams';
import type { SubscriptionCommand } from './commands';

/** The stream a subscription command acts on. */
export const subscriptionStreamOf = (command: SubscriptionCommand): string =>
  subscriptionStream('snapshot' in command ? command.snapshot.subscriptionId : command.subscriptionId);
