import { Metrics } from '../../src/infra/metrics/metrics';

describe('consumer metrics at scrape time', () => {
  it('shows lag per group and partition, asking Kafka at most once a second', async () => {
    const metrics = new Metrics();
    let calls = 0;
    metrics.observeConsumers({
      lag: async () => {
        calls += 1;
        return [
          { group: 'ns.audit-log', partition: 0, lag: 7 },
          { group: 'ns.audit-log', partition: 1, lag: 0 },
        ];
      },
      states: () => ({ 'audit-log': 'running' }),
    });
    const first = await metrics.registry.metrics();
    await metrics.registry.metrics();
    expect(calls).toBe(1);
    expect(first).toContain('billing_ledger_consumer_lag{group="ns.audit-log",partition="0"} 7');
    expect(first).toContain('billing_ledger_consumer_lag{group="ns.audit-log",partition="1"} 0');
  });

  it('never fails the scrape when Kafka does not answer: the last known lag stays, the rest is served', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'clearTimeout'] });
    try {
      const metrics = new Metrics();
      let down = false;
      metrics.observeConsumers({
        lag: async () => {
          if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:19092');
          return [{ group: 'ns.entitlements', partition: 2, lag: 3 }];
        },
        states: () => ({ entitlements: 'retrying' }),
      });
      expect(await metrics.registry.metrics()).toContain(
        'billing_ledger_consumer_lag{group="ns.entitlements",partition="2"} 3',
      );
      down = true;
      jest.setSystemTime(Date.now() + 5_000);
      const scrape = await metrics.registry.metrics();
      expect(scrape).toContain('billing_ledger_consumer_lag{group="ns.entitlements",partition="2"} 3');
      expect(scrape).toContain('billing_ledger_consumer_state{consumer="entitlements",state="retrying"} 1');
      expect(scrape).toContain('billing_ledger_consumer_state{consumer="entitlements",state="running"} 0');
    } finally {
      jest.useRealTimers();
    }
  });

  it('serves the scrape without lag when Kafka has never answered', async () => {
    const metrics = new Metrics();
    metrics.observeConsumers({
      lag: () => Promise.reject(new Error('no broker')),
      states: () => ({ 'audit-log': 'starting' }),
    });
    const scrape = await metrics.registry.metrics();
    expect(scrape).not.toMatch(/billing_ledger_consumer_lag\{/);
    expect(scrape).toContain('billing_ledger_consumer_state{consumer="audit-log",state="starting"} 1');
  });
});
