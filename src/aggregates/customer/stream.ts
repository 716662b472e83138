import { customerStream } from '../streams';
import type { CustomerCommand } from './commands';

/** The stream a customer command acts on. */
export const customerStreamOf = (command: CustomerCommand): string =>
  customerStream(command.type === 'SyncCustomer' ? command.snapshot.customerId : command.customerId);
