import { Client, type ClientBase, type Pool } from 'pg';
import { assertValidEvents, assertValidRequests } from './append-rules';
import { DEFAULT_READ_BATCH, followLog, untilClosed } from './follow-log';
import {
  DuplicateEventIdError,
  WrongExpectedRevisionError,
  type AppendOutcome,
  type AppendRequest,
  type AppendResult,
  type AppendSignal,
  type EventData,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
  type RecordedEvent,
  type SubscribeOptions,
} from './port';
import { Wakeup } from './wakeup';

/** The channel append_to_stream() notifies on (migrations/0001_event_store.sql). */
const CHANNEL = 'billing_ledger_events';

export interface PostgresEventStoreOptions {
  /** Close the pool with the store (when the store created it). */
  ownsPool?: boolean;
  /** A caught-up subscription reads again this often even without a notification. */
  pollMs?: number;
}

interface EventRow {
  position: string;
  event_id: string;
  stream_name: string;
  revision: number;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  recorded_at: Date;
}

interface AppendRow {
  outcome: 'appended' | 'replay' | 'wrong_expected_revision' | 'duplicate_event_id';
  revision: number | null;
  position: string | null;
  conflicting_ids: string[] | null;
}

interface AppendManyRow extends Omit<AppendRow, 'outcome'> {
  ord: number;
  outcome: AppendRow['outcome'] | 'skipped';
}

const COLUMNS = 'position, event_id, stream_name, revision, type, data, metadata, recorded_at';

/**
 * The event store on PostgreSQL. Appends go through one SQL function that serialises them, so
 * a position is only ever visible after every lower one: the migration explains the choice.
 */
export class PostgresEventStore implements EventStore {
  private readonly wakeup = new Wakeup();
  private listener: Promise<Client | undefined> | undefined;
  private readonly closing = new AbortController();

  constructor(
    private readonly pool: Pool,
    private readonly options: PostgresEventStoreOptions = {},
  ) {}

  async appendToStream(
    streamName: string,
    events: EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    assertValidEvents(streamName, events);
    const payload = events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata }));
    const { rows } = await this.pool.query<AppendRow>(
      'SELECT outcome, revision, position, conflicting_ids FROM append_to_stream($1, $2, $3)',
      [streamName, String(expected), JSON.stringify(payload)],
    );
    const row = rows[0];
    switch (row?.outcome) {
      case 'appended':
      case 'replay':
        return { nextExpectedRevision: row.revision ?? -1, position: BigInt(row.position ?? 0) };
      case 'wrong_expected_revision':
        throw new WrongExpectedRevisionError(streamName, expected, row.revision ?? 'no_stream');
      case 'duplicate_event_id':
        throw new DuplicateEventIdError(streamName, row.conflicting_ids ?? []);
      default:
        throw new Error(`append_to_stream answered ${JSON.stringify(row)}`);
    }
  }

  /** One transaction, one acquisition of the log's lock (append_many in migration 0005). */
  appendMany(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    return appendManyWithin(this.pool, requests);
  }

  async readStream(streamName: string, fromRevision = 0): Promise<RecordedEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_name = $1 AND revision >= $2 ORDER BY revision`,
      [streamName, fromRevision],
    );
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
      [String(options.after ?? 0n), options.maxCount ?? DEFAULT_READ_BATCH],
    );
    return rows.map(toRecorded);
  }

  subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    return followLog(
      (after, maxCount) => {
        this.listen();
        return this.readAll({ after, maxCount });
      },
      this.wakeup,
      untilClosed(options, this.closing.signal),
      this.options.pollMs ?? 500,
    );
  }

  /** Woken by every append to this database, from any process (LISTEN on the store's one listener connection). */
  changes(): AppendSignal {
    const wakeup = this.wakeup;
    return {
      get version() {
        return wakeup.version;
      },
      waitAfter: (seen, options) => {
        this.listen();
        return wakeup.waitAfter(seen, options);
      },
    };
  }

  async headPosition(): Promise<bigint> {
    const { rows } = await this.pool.query<{ head: string }>(
      'SELECT coalesce(max(position), 0) AS head FROM events',
    );
    return BigInt(rows[0]?.head ?? 0);
  }

  async close(): Promise<void> {
    this.closing.abort();
    const listener = await this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    if (this.options.ownsPool) await this.pool.end();
  }

  /**
   * One LISTEN connection per store, shared by its subscriptions, outside the pool so a
   * long-lived subscription holds no pool slot. If it fails, subscriptions keep polling and the
   * next read tries to listen again.
   */
  private listen(): void {
    if (this.listener || this.closing.signal.aborted) return;
    const client = new Client(this.pool.options);
    const forget = (): void => {
      this.listener = undefined;
      void client.end().catch(() => undefined);
    };
    client.on('notification', () => this.wakeup.notify());
    client.on('error', forget);
    this.listener = client
      .connect()
      .then(() => client.query(`LISTEN ${CHANNEL}`))
      .then(() => client)
      .catch(() => {
        forget();
        return undefined;
      });
  }
}

/**
 * appendMany on a given connection: inside the caller's READ COMMITTED transaction, the events
 * commit with whatever else that transaction writes (the inbox's status updates), and the log's
 * lock is held until that commit.
 */
export async function appendManyWithin(
  db: Pick<ClientBase, 'query'>,
  requests: AppendRequest[],
): Promise<AppendOutcome[]> {
  assertValidRequests(requests);
  if (requests.length === 0) return [];
  const payload = requests.map(({ streamName, events, expected, group }) => ({
    stream: streamName,
    expected: String(expected),
    group: group ?? null,
    events: events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })),
  }));
  const { rows } = await db.query<AppendManyRow>(
    'SELECT ord, outcome, revision, position, conflicting_ids FROM append_many($1) ORDER BY ord',
    [JSON.stringify(payload)],
  );
  return requests.map(({ streamName, expected }, i): AppendOutcome => {
    const row = rows[i];
    switch (row?.outcome) {
      case 'appended':
      case 'replay':
        return {
          streamName,
          status: row.outcome,
          nextExpectedRevision: row.revision ?? -1,
          position: BigInt(row.position ?? 0),
        };
      case 'wrong_expected_revision':
        return {
          streamName,
          status: 'failed',
          error: new WrongExpectedRevisionError(streamName, expected, row.revision ?? 'no_stream'),
        };
      case 'duplicate_event_id':
        return {
          streamName,
          status: 'failed',
          error: new DuplicateEventIdError(streamName, row.conflicting_ids ?? []),
        };
      case 'skipped':
        return { streamName, status: 'skipped' };
      default:
        throw new Error(`append_many answered ${JSON.stringify(row)} for request ${i}`);
    }
  });
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    revision: row.revision,
    position: BigInt(row.position),
    recordedAt: row.recorded_at,
  };
}
