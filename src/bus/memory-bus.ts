import {
  parseBusEvent,
  type BusEvent,
  type ConsumerHandlers,
  type EventBus,
  type EventConsumer,
  type EventPublisher,
} from './port';

/**
 * In-process bus for unit tests: one log, each group with its own offset; delivery is
 * serialised per group, in publish order.
 */
export class MemoryBus implements EventBus {
  readonly log: string[] = [];
  private readonly groups = new Map<string, MemoryConsumer>();

  publisher(): EventPublisher {
    return {
      publish: async (events: BusEvent[]) => {
        for (const event of events) this.log.push(JSON.stringify(event));
        await Promise.all([...this.groups.values()].map((group) => group.drain()));
      },
      close: async () => undefined,
    };
  }

  /** Appends a raw message, as a broken producer might. */
  async publishRaw(raw: string): Promise<void> {
    this.log.push(raw);
    await Promise.all([...this.groups.values()].map((group) => group.drain()));
  }

  consumer(group: string): EventConsumer {
    const existing = this.groups.get(group);
    if (existing) return existing;
    const consumer = new MemoryConsumer(this.log, () => this.groups.delete(group));
    this.groups.set(group, consumer);
    return consumer;
  }
}

class MemoryConsumer implements EventConsumer {
  private offset = 0;
  private handlers: ConsumerHandlers | null = null;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: string[],
    private readonly onStop: () => void,
  ) {}

  async start(handlers: ConsumerHandlers): Promise<void> {
    this.handlers = handlers;
    await this.drain();
  }

  drain(): Promise<void> {
    this.draining = this.draining.then(async () => {
      const handlers = this.handlers;
      if (!handlers) return;
      while (this.offset < this.log.length) {
        const end = this.log.length;
        const events: BusEvent[] = [];
        for (let i = this.offset; i < end; i++) {
          const raw = this.log[i] as string;
          const parsed = parseBusEvent(raw);
          if (parsed.ok) events.push(parsed.event);
          else await handlers.deadLetter({ raw, reason: parsed.reason, offset: String(i) });
        }
        await handlers.handle(events);
        this.offset = end;
      }
    });
    return this.draining;
  }

  async stop(): Promise<void> {
    this.handlers = null;
    this.onStop();
  }
}
