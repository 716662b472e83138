import { followLog } from '../../../src/eventstore/follow-log';
import type { RecordedEvent } from '../../../src/eventstore/port';
import { Wakeup } from '../../../src/eventstore/wakeup';

const recorded = (position: number): RecordedEvent => ({
  id: `id-${position}`,
  type: 'T',
  data: {},
  metadata: { schemaVersion: 1 },
  streamName: 's',
  revision: position - 1,
  position: BigInt(position),
  recordedAt: new Date(0),
});

describe('followLog', () => {
  it('reads the next batch only when the consumer pulls past the current one (back-pressure)', async () => {
    const log = [1, 2, 3, 4, 5].map(recorded);
    const reads: bigint[] = [];
    const readBatch = async (after: bigint, maxCount: number): Promise<RecordedEvent[]> => {
      reads.push(after);
      return log.filter((e) => e.position > after).slice(0, maxCount);
    };
    const iterator = followLog(readBatch, new Wakeup(), { batchSize: 2 })[Symbol.asyncIterator]();

    expect((await iterator.next()).value?.position).toBe(1n);
    expect((await iterator.next()).value?.position).toBe(2n);
    expect(reads).toEqual([0n]);
    expect((await iterator.next()).value?.position).toBe(3n);
    expect(reads).toEqual([0n, 2n]);
    await iterator.return(undefined);
  });

  it('waits when caught up and resumes after its checkpoint when woken', async () => {
    const log = [recorded(1)];
    const wakeup = new Wakeup();
    const iterator = followLog(async (after) => log.filter((e) => e.position > after), wakeup, { after: 0n })[
      Symbol.asyncIterator
    ]();
    expect((await iterator.next()).value?.position).toBe(1n);
    const next = iterator.next();
    log.push(recorded(2));
    wakeup.notify();
    expect((await next).value?.position).toBe(2n);
    await iterator.return(undefined);
  });
});
