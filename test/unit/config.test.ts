import { ConfigError, loadConfig } from '../../src/config/config';

const valid = {
  STRIPE_WEBHOOK_SECRET: 'whsec_a,whsec_b',
  STRIPE_SECRET_KEY: 'sk_test_abc',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:54320/billing_ledger',
  KAFKA_BROKERS: '127.0.0.1:19092, 127.0.0.1:19093',
  REDIS_URL: 'redis://127.0.0.1:63790',
  CLICKHOUSE_URL: 'http://127.0.0.1:18123',
  API_KEYS: 'frontend-key-123:entitlements:read,ops-key-4567:*',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => p.variable);
  }
  throw new Error('expected a ConfigError');
}

describe('configuration from the environment', () => {
  it('parses a valid environment with defaults', () => {
    const config = loadConfig(valid);
    expect(config.PORT).toBe(3000);
    expect(config.EVENT_STORE).toBe('postgres');
    expect(config.STRIPE_WEBHOOK_SECRET).toEqual(['whsec_a', 'whsec_b']);
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:19092', '127.0.0.1:19093']);
    expect(config.API_KEYS).toEqual([
      { key: 'frontend-key-123', scopes: ['entitlements:read'] },
      { key: 'ops-key-4567', scopes: ['*'] },
    ]);
  });

  it.each([
    ['PORT', 'not-a-port'],
    ['PORT', '70000'],
    ['STRIPE_WEBHOOK_SECRET', 'not_a_secret'],
    ['STRIPE_SECRET_KEY', 'pk_test_abc'],
    ['DATABASE_URL', 'mysql://x'],
    ['EVENT_STORE', 'cassandra'],
    ['KAFKA_BROKERS', 'localhost'],
    ['REDIS_URL', 'http://x'],
    ['CLICKHOUSE_URL', 'nope'],
    ['API_KEYS', 'short:*'],
  ])('names %s when it is %p', (variable, value) => {
    expect(problemsOf({ ...valid, [variable]: value })).toEqual([variable]);
  });

  it('names every missing required variable', () => {
    expect(problemsOf({}).sort()).toEqual(
      [
        'CLICKHOUSE_URL',
        'DATABASE_URL',
        'KAFKA_BROKERS',
        'REDIS_URL',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRET',
      ].sort(),
    );
  });

  describe('pools, timeouts and shutdown: a default, an override, and a bad value named', () => {
    it.each([
      ['PG_INTAKE_POOL_MAX', 10, '4', 4, '0'],
      ['PG_WORKER_POOL_MAX', 10, '20', 20, 'many'],
      ['PG_READ_POOL_MAX', 5, '2', 2, '1.5'],
      ['PG_CONNECT_TIMEOUT_MS', 5_000, '2000', 2_000, '-1'],
      ['PG_INTAKE_STATEMENT_TIMEOUT_MS', 5_000, '3000', 3_000, '10'],
      ['PG_STATEMENT_TIMEOUT_MS', 30_000, '60000', 60_000, 'soon'],
      ['PG_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000, '120000', 120_000, '99999999'],
      ['REDIS_CONNECT_TIMEOUT_MS', 5_000, '1000', 1_000, 'x'],
      ['REDIS_COMMAND_TIMEOUT_MS', 5_000, '2500', 2_500, '50'],
      ['CLICKHOUSE_REQUEST_TIMEOUT_MS', 30_000, '10000', 10_000, '0'],
      ['SHUTDOWN_TIMEOUT_MS', 15_000, '30000', 30_000, 'forever'],
    ] as const)(
      '%s: default %p, %p parses to %p, %p is named as bad',
      (variable, fallback, value, parsed, bad) => {
        expect(loadConfig(valid)[variable]).toBe(fallback);
        expect(loadConfig({ ...valid, [variable]: value })[variable]).toBe(parsed);
        expect(problemsOf({ ...valid, [variable]: bad })).toEqual([variable]);
      },
    );
  });

  it('requires the EventStoreDB connection string when EVENT_STORE=eventstoredb', () => {
    expect(problemsOf({ ...valid, EVENT_STORE: 'eventstoredb' })).toEqual(['EVENTSTORE_CONNECTION_STRING']);
  });
});
