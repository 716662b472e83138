/**
 * Does a command cost more as its stream grows? One subscription's stream is grown to 100, 1,000
 * and 10,000 events; at each length, STREAM_GROWTH_SAMPLES customer.subscription.updated events
 * go one after another through the real path (processStripeEvent: translate, decide against the
 * handler's cached state, append with the expected revision to PostgreSQL) and the mean time per
 * event is compared with the first length's (target: within 2x). Beside it, the cold cost (a new
 * process: the first command reads and folds the whole stream), which does grow.
 */
import { performance } from 'node:perf_hooks';
import { CommandHandler, StagedAppends } from '../../src/commands/handle-command';
import { processStripeEvent, stageStripeEvent } from '../../src/commands/process-stripe-event';
import { subscriptionStream } from '../../src/aggregates/streams';
import { PostgresEventStore } from '../../src/eventstore/postgres-event-store';
import { createTestDatabase } from '../../test/support/postgres';
import { subscriptionCreatedEvent, subscriptionUpdatedEvent, T0 } from '../../test/support/stripe-fixtures';
import type { BenchFigure, BenchScenario } from '../run';

const LENGTHS = [100, 1_000, 10_000];
const SAMPLES = Number(process.env.STREAM_GROWTH_SAMPLES ?? 200);
const SUBSCRIPTION = 'sub_growth';
const CUSTOMER = 'cus_growth';

let seq = 0;
/** The next update of the subscription, one second after the previous (so never stale). */
function nextUpdate() {
  seq += 1;
  return subscriptionUpdatedEvent(
    { id: SUBSCRIPTION, customer: CUSTOMER, items: [{ quantity: 1 + (seq % 7) }] },
    { id: `evt_g${String(seq).padStart(7, '0')}`, created: T0 + seq },
  );
}

const scenario: BenchScenario = {
  description: `per-event command time for one subscription at stream lengths ${LENGTHS.join(', ')} (PostgreSQL, real path)`,
  async run(log) {
    const db = await createTestDatabase({ prefix: 'bench_stream_growth' });
    const store = new PostgresEventStore(db.pool);
    const handler = new CommandHandler(store);
    const figures: BenchFigure[] = [];
    const length = async () => Number(await store.headPosition());
    try {
      await processStripeEvent(
        store,
        subscriptionCreatedEvent(
          { id: SUBSCRIPTION, customer: CUSTOMER },
          { id: 'evt_g0000000', created: T0 },
        ),
        { handler },
      );
      let first: number | undefined;
      for (const target of LENGTHS) {
        // Grow the stream fast: real decisions, staged and appended 1,000 at a time.
        while ((await length()) < target) {
          const unit = new StagedAppends(handler, 'growth');
          for (let i = Math.min(1000, target - (await length())); i > 0; i--)
            await stageStripeEvent(unit, nextUpdate());
          const outcomes = await store.appendMany(unit.requests());
          unit.settle(outcomes, true);
        }
        const at = await length();
        const started = performance.now();
        for (let i = 0; i < SAMPLES; i++) {
          const result = await processStripeEvent(store, nextUpdate(), { handler });
          if (result.appended[0]?.count !== 1)
            throw new Error(`expected one event, got ${JSON.stringify(result)}`);
        }
        const perEvent = (performance.now() - started) / SAMPLES;
        first ??= perEvent;
        log(
          `stream length ${at}: ${perEvent.toFixed(2)} ms per event (${(perEvent / first).toFixed(2)}x the first)`,
        );
        figures.push({
          metric: `command time at ${at} events`,
          value: perEvent,
          unit: 'ms/event',
          detail: `${SAMPLES} updates in a row, cached state; ${(perEvent / first).toFixed(2)}x the first`,
        });

        const coldStarted = performance.now();
        await processStripeEvent(store, nextUpdate(), { handler: new CommandHandler(store) });
        const cold = performance.now() - coldStarted;
        figures.push({
          metric: `cold first command at ${at} events`,
          value: cold,
          unit: 'ms',
          detail: 'a new process: reads and folds the whole stream once',
        });
        // The cold handler appended behind the warm one's back: reload before the next growth,
        // not inside the next measurement.
        handler.cache.delete(subscriptionStream(SUBSCRIPTION));
      }
      const last = figures.filter((f) => f.unit === 'ms/event').pop();
      const ratio = (last?.value ?? 0) / (first ?? 1);
      figures.push({
        metric: 'ratio, longest to shortest',
        value: ratio,
        unit: 'x',
        detail: ratio <= 2 ? 'flat: within 2x' : 'NOT flat: over 2x',
      });
      return figures;
    } finally {
      await store.close();
      await db.drop();
    }
  },
};

export default scenario;
