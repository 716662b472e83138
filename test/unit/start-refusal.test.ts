import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { refusalOf, REFUSED_EXIT_CODE } from '../../src/cli/lifecycle';

const env = {
  STRIPE_WEBHOOK_SECRET: 'whsec_a',
  STRIPE_SECRET_KEY: 'sk_test_abc',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
  KAFKA_BROKERS: '127.0.0.1:1',
  REDIS_URL: 'redis://127.0.0.1:1',
  CLICKHOUSE_URL: 'http://127.0.0.1:1',
};

describe('start refuses the in-memory event store unless asked for development', () => {
  const memory = loadConfig({ ...env, EVENT_STORE: 'memory' });

  it('refuses EVENT_STORE=memory, saying why and how to opt in', () => {
    const refusal = refusalOf(memory, {}, {});
    expect(refusal).toMatch(/would vanish on restart/);
    expect(refusal).toMatch(/--dev-memory-store/);
    expect(refusal).toMatch(/BILLING_LEDGER_DEV=1/);
  });

  it('accepts it with --dev-memory-store or BILLING_LEDGER_DEV=1, and never objects to postgres', () => {
    expect(refusalOf(memory, { devMemoryStore: true }, {})).toBeNull();
    expect(refusalOf(memory, {}, { BILLING_LEDGER_DEV: '1' })).toBeNull();
    expect(refusalOf(memory, {}, { BILLING_LEDGER_DEV: '0' })).not.toBeNull();
    expect(refusalOf(loadConfig(env), {}, {})).toBeNull();
  });

  it('`billing-ledger start` exits with code 2 and the message before touching any service', () => {
    const root = path.join(__dirname, '..', '..');
    const run = spawnSync(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(root, 'src', 'cli', 'main.ts'), 'start'],
      {
        cwd: root,
        env: { PATH: process.env.PATH, ...env, EVENT_STORE: 'memory' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.status).toBe(REFUSED_EXIT_CODE);
    expect(run.stderr).toMatch(/refusing to start[\s\S]*EVENT_STORE=memory/);
  });
});
