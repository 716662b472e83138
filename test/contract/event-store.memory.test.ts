import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import { eventStoreContract } from './event-store.contract';

eventStoreContract('memory', async () => new MemoryEventStore());
