import { Command } from 'commander';
import { Pool } from 'pg';
import { startSystem } from '../app/system';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { migratePostgres } from '../infra/postgres/migrate';
import { connectClickHouse } from '../infra/clickhouse/clickhouse';
import { createLogger } from '../shared/logger';

function config(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

const program = new Command()
  .name('billing-ledger')
  .description('Billing Ledger: Stripe webhooks to an event log, read models and sagas.')
  .showHelpAfterError();

program
  .command('migrate')
  .description('Create or upgrade the PostgreSQL schema and the ClickHouse database')
  .action(async () => {
    const cfg = config();
    const pool = new Pool({ connectionString: cfg.DATABASE_URL });
    try {
      await migratePostgres(pool);
      const clickhouse = await connectClickHouse(cfg.CLICKHOUSE_URL);
      await clickhouse.close();
      process.stdout.write('migrations applied\n');
    } finally {
      await pool.end();
    }
  });

program
  .command('start')
  .description('Start the gateway and the workers (inbox, relay, consumers) until SIGINT/SIGTERM')
  .option('--no-gateway', 'run only the workers')
  .option('--no-workers', 'run only the gateway')
  .action(async (opts: { gateway: boolean; workers: boolean }) => {
    const cfg = config();
    const logger = createLogger(cfg.LOG_LEVEL);
    const system = await startSystem(cfg, { gateway: opts.gateway, workers: opts.workers, logger });
    logger.info({ url: system.url }, 'billing-ledger started');
    const stop = async (signal: string) => {
      logger.info({ signal }, 'stopping');
      await system.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`billing-ledger: ${(error as Error).message}\n`);
  process.exit(1);
});
