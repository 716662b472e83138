import type { Consumer } from 'kafkajs';
import { deadLetterHeaders, type KafkaBus } from '../bus/kafka-bus';
import type { Metrics } from '../infra/metrics/metrics';
import { backoffDelay, sleep, withTimeout, type BackoffPolicy } from '../shared/async';
import type { Logger } from '../shared/logger';
import type { DeadLetterStore } from './dead-letters';
import { BatchAbandoned, handlePartitionBatch, retryTransient, type PoisonMessage } from './partition-batch';
import { StoreLostError, type ReadModel } from './read-model';
import { describeError, rootCause } from './transient';

export type ConsumerState = 'starting' | 'running' | 'retrying' | 'rebuilding' | 'crashed' | 'stopped';

export interface ConsumerStatus {
  state: ConsumerState;
  /** When the consumer entered its state (ISO-8601). */
  since: string;
  /** Letters of this consumer not replayed yet: those pending at start plus those recorded since. */
  deadLetters: number;
  lastError?: { message: string; at: string };
  lastDeadLetter?: { reason: string; partition: number; offset: string; eventId?: string; at: string };
}

/** A consumer's status as `/ready` reports a component (the gateway's ComponentReport shape). */
export interface ConsumerReport {
  status: 'ready' | 'degraded';
  state: ConsumerState;
  [detail: string]: unknown;
}

export interface ConsumerRuntimeOptions {
  bus: KafkaBus;
  /** Prefix of every consumer group: `<namespace>.<model.name>`. */
  namespace: string;
  deadLetters: DeadLetterStore;
  logger: Logger;
  metrics?: Metrics;
  /** Partitions processed at once per consumer (default: the topic's partition count). */
  partitionsConsumedConcurrently?: number;
  backoff?: BackoffPolicy;
  /** A consumer retrying for longer than this makes healthy() false (default 60 s). */
  retryAlarmMs?: number;
}

type Restart = { reason: 'stop' } | { reason: 'store_lost' | 'crash'; error: unknown };

/**
 * Runs read models and sagas on Kafka (one consumer group each) so that none of them stops or
 * lies without anyone noticing: batches per partition, concurrently across partitions, effect
 * and checkpoint durable in the model before offsets move; poison events dead-lettered, the
 * run goes on; infrastructure errors retried forever with backoff; StoreLostError answered by
 * prepare() again; a crash answered by a restart; status for /ready and lag for /metrics.
 */
export class ConsumerRuntime {
  private readonly consumers = new Map<string, ModelConsumer>();

  constructor(private readonly options: ConsumerRuntimeOptions) {
    options.metrics?.observeConsumers({
      lag: () => options.bus.consumerLag([...this.consumers.values()].map((c) => c.group)),
      states: () => Object.fromEntries([...this.consumers].map(([name, c]) => [name, c.status().state])),
    });
  }

  /** Starts consuming for `model` in the background (joins once Kafka answers); returns at once. */
  start(model: ReadModel): void {
    if (this.consumers.has(model.name)) throw new Error(`consumer ${model.name} is already running`);
    const consumer = new ModelConsumer(model, this.options);
    this.consumers.set(model.name, consumer);
    consumer.start();
  }

  status(): Record<string, ConsumerStatus> {
    return Object.fromEntries([...this.consumers].map(([name, consumer]) => [name, consumer.status()]));
  }

  /** False when a consumer is not running, or has been retrying for longer than the alarm. */
  healthy(): boolean {
    return [...this.consumers.values()].every((consumer) => this.isHealthy(consumer.status()));
  }

  /** Each consumer as a `/ready` component (`consumer:<name>`): ready while healthy, else degraded. */
  componentReports(): Record<string, ConsumerReport> {
    return Object.fromEntries(
      [...this.consumers].map(([name, consumer]) => {
        const status = consumer.status();
        return [`consumer:${name}`, { ...status, status: this.isHealthy(status) ? 'ready' : 'degraded' }];
      }),
    );
  }

  private isHealthy({ state, since }: ConsumerStatus): boolean {
    const alarm = this.options.retryAlarmMs ?? 60_000;
    return state === 'running' || (state === 'retrying' && Date.now() - Date.parse(since) < alarm);
  }

  /** Stops every consumer: in-flight batches may finish until the deadline; uncommitted ones are fetched again later. */
  async stop(deadlineMs = 10_000): Promise<void> {
    await Promise.all([...this.consumers.values()].map((consumer) => consumer.stop(deadlineMs)));
    await this.options.bus.close();
  }
}

class ModelConsumer {
  readonly group: string;
  private readonly topic: string;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private readonly dlq: ReturnType<KafkaBus['deadLetterPublisher']>;
  private current: { restart(next: Restart): void } | null = null;
  private loop: Promise<void> = Promise.resolve();
  private failures = 0;
  private readonly retrying = new Set<number>();
  private info: ConsumerStatus = { state: 'starting', since: new Date().toISOString(), deadLetters: 0 };

  constructor(
    private readonly model: ReadModel,
    private readonly options: ConsumerRuntimeOptions,
  ) {
    this.group = `${options.namespace}.${model.name}`;
    this.topic = options.bus.topic;
    this.logger = options.logger.child({ consumer: model.name, group: this.group });
    this.dlq = options.bus.deadLetterPublisher();
  }

  status(): ConsumerStatus {
    return { ...this.info };
  }

  start(): void {
    void this.options.deadLetters
      .countPending(this.model.name)
      .then((pending) => (this.info.deadLetters += pending))
      .catch(() => undefined);
    this.loop = this.run();
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopping.abort();
    this.current?.restart({ reason: 'stop' });
    await withTimeout(this.loop, deadlineMs, `${this.group}: not stopped within ${deadlineMs} ms`).catch(
      (error: unknown) => this.logger.warn({ err: error }, 'consumer stop: deadline passed'),
    );
    await this.dlq.close();
    this.setState('stopped');
  }

  private setState(state: ConsumerState): void {
    if (this.info.state === state || this.info.state === 'stopped') return;
    this.info = { ...this.info, state, since: new Date().toISOString() };
  }

  private noteError(error: unknown): void {
    this.info.lastError = { message: describeError(error), at: new Date().toISOString() };
  }

  /** One consumer generation after another until stopped: prepare, join, consume, restart. */
  private async run(): Promise<void> {
    let rebuilding = false;
    while (!this.stopping.signal.aborted) {
      const next = await this.generation(rebuilding);
      if (next.reason === 'stop') break;
      rebuilding = next.reason === 'store_lost';
      this.options.metrics?.consumerRestarts.inc({ consumer: this.model.name, reason: next.reason });
      this.noteError(next.error);
      // Reset by a committed batch: a consumer that fails again at once waits longer each time.
      this.failures += 1;
      const delay = backoffDelay(this.failures, this.options.backoff);
      if (rebuilding) {
        this.logger.warn({ err: next.error }, 'read model lost its store: preparing it again');
      } else {
        this.logger.error({ err: next.error, restartInMs: delay }, 'consumer crashed: restarting');
        this.setState(this.info.state === 'starting' ? 'starting' : 'crashed');
      }
      await sleep(delay, this.stopping.signal);
    }
  }

  /** Runs one kafkajs consumer until it must restart (or stop); never throws. */
  private async generation(rebuilding: boolean): Promise<Restart> {
    const abort = new AbortController();
    let restart: (next: Restart) => void = () => undefined;
    const restarted = new Promise<Restart>((resolve) => {
      restart = (next) => {
        abort.abort();
        resolve(next);
      };
    });
    this.current = { restart };
    let consumer: Consumer | null = null;
    try {
      if (rebuilding) this.setState('rebuilding');
      const known = await this.model.prepare(this.stopping.signal);
      if (abort.signal.aborted) return await restarted;
      consumer = this.options.bus.groupConsumer(this.group);
      this.listen(consumer, known, restart);
      await consumer.connect();
      if (abort.signal.aborted) return await restarted;
      await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
      await this.consume(consumer, known, abort.signal, restart);
      return await restarted;
    } catch (error) {
      // prepare() or the join failed: StoreLostError from prepare() is a crash too (it waits).
      return { reason: 'crash', error };
    } finally {
      abort.abort();
      this.current = null;
      this.retrying.clear();
      // Waits for in-flight batches; they see the abort and leave what they have not committed.
      await consumer
        ?.disconnect()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'disconnect failed'));
    }
  }

  private listen(consumer: Consumer, known: Map<number, string>, restart: (next: Restart) => void): void {
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = payload.memberAssignment[this.topic] ?? [];
      // The model's checkpoint is the truth; a partition it has none for resumes from the group's commit.
      for (const partition of assigned) {
        const offset = known.get(partition);
        if (offset !== undefined) consumer.seek({ topic: this.topic, partition, offset });
      }
      // A partition that moved to another member may come back later: its commit is newer than ours.
      for (const partition of [...known.keys()]) if (!assigned.includes(partition)) known.delete(partition);
      this.setState('running');
      this.logger.info({ partitions: assigned }, 'joined the group');
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.noteError(rootCause(payload.error));
      if (payload.restart) {
        // kafkajs restarts by itself after a retriable error: watch it come back.
        this.options.metrics?.consumerRestarts.inc({ consumer: this.model.name, reason: 'kafkajs' });
        this.setState('retrying');
      } else {
        restart({ reason: 'crash', error: rootCause(payload.error) });
      }
    });
  }

  private async consume(
    consumer: Consumer,
    known: Map<number, string>,
    signal: AbortSignal,
    restart: (next: Restart) => void,
  ): Promise<void> {
    const name = this.model.name;
    const metrics = this.options.metrics;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently:
        this.options.partitionsConsumedConcurrently ?? this.options.bus.partitions,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const active = () => isRunning() && !isStale() && !signal.aborted;
        const last = batch.messages[batch.messages.length - 1];
        if (!last || !active()) return;
        const partition = batch.partition;
        let nextOffset: string;
        try {
          nextOffset = await handlePartitionBatch(
            {
              model: this.model,
              active,
              heartbeat,
              signal,
              backoff: this.options.backoff,
              deadLetter: (letter) => this.deadLetter(letter, active, heartbeat, signal),
              onRetry: (error, attempt, delayMs) => {
                metrics?.consumerRetries.inc({ consumer: name });
                this.noteError(error);
                this.retrying.add(partition);
                this.setState('retrying');
                this.logger.warn(
                  { err: error, partition, attempt, retryInMs: delayMs },
                  'batch failed: retrying',
                );
              },
              onRecovered: () => this.recovered(partition),
              onApplied: (applied) => metrics?.projected.inc({ projection: name }, applied.events.length),
            },
            partition,
            batch.messages.map((message) => ({
              offset: message.offset,
              key: message.key?.toString('utf8') ?? null,
              value: message.value?.toString('utf8') ?? null,
            })),
          );
        } catch (error) {
          if (error instanceof BatchAbandoned) return;
          if (error instanceof StoreLostError) return restart({ reason: 'store_lost', error });
          throw error; // kafkajs reports a crash; the CRASH listener restarts the consumer
        }
        this.failures = 0;
        this.recovered(partition);
        known.set(partition, nextOffset);
        resolveOffset(last.offset);
        metrics?.consumerBatches.inc({ consumer: name });
        // The model holds the checkpoint; a failed commit costs only a redelivery of idempotent events.
        await consumer
          .commitOffsets([{ topic: batch.topic, partition, offset: nextOffset }])
          .catch((error: unknown) => this.logger.warn({ err: error, partition }, 'offset commit failed'));
        await heartbeat().catch(() => undefined);
      },
    });
  }

  private recovered(partition: number): void {
    this.retrying.delete(partition);
    if (this.retrying.size === 0 && this.info.state !== 'stopped') this.setState('running');
  }

  /** In PostgreSQL first (what `dead-letters replay` reads), then on the `<topic>.dlq` topic. */
  private async deadLetter(
    letter: PoisonMessage,
    active: () => boolean,
    heartbeat: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const hooks = { active, heartbeat, signal, backoff: this.options.backoff };
    const eventId = letter.event?.eventId;
    const stored = await retryTransient(hooks, () =>
      this.options.deadLetters.record({
        consumer: this.model.name,
        group: this.group,
        topic: this.topic,
        partition: letter.partition,
        offset: letter.offset,
        reason: letter.reason,
        ...(letter.event ? { event: letter.event } : { raw: letter.raw }),
      }),
    );
    await retryTransient(hooks, () =>
      this.dlq.publish({
        key: letter.key,
        value: letter.raw,
        headers: deadLetterHeaders({ ...letter, group: this.group, eventId }),
      }),
    );
    if (!stored) return; // a redelivered batch: counted the first time
    this.options.metrics?.deadLetters.inc({ consumer: this.model.name });
    this.info.deadLetters += 1;
    this.info.lastDeadLetter = {
      reason: letter.reason,
      partition: letter.partition,
      offset: letter.offset,
      ...(eventId ? { eventId } : {}),
      at: new Date().toISOString(),
    };
    this.logger.warn(
      { partition: letter.partition, offset: letter.offset, eventId, reason: letter.reason },
      'dead-lettered a message',
    );
  }
}
