import { Command } from 'commander';
import { Pool } from 'pg';
import { openReadSide } from '../app/system';
import { createEventStore } from '../eventstore/create-event-store';
import { rebuildAuditLog } from '../projections/audit/rebuild-audit-log';
import { asOf } from '../projections/entitlements/queries';
import { progress, type Progress } from './progress';
import { migrate, start, type StartOptions } from './lifecycle';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { migratePostgres } from '../infra/postgres/migrate';
import { createLogger } from '../shared/logger';
import { deadLettersCommand } from './dead-letters';

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
  .action(() => migrate(config()));

program
  .command('start')
  .description('Start the gateway and the workers (inbox, relay, consumers) until SIGINT/SIGTERM')
  .option('--no-gateway', 'run only the workers')
  .option('--no-workers', 'run only the gateway')
  .option('--dev-memory-store', 'development only: accept EVENT_STORE=memory (lost on restart)')
  .action((opts: StartOptions) => start(config(), opts));

program
  .command('rebuild')
  .description('Rebuild a read model from the event log without downtime')
  .argument('<projection>', 'entitlements | audit-log')
  .action(async (projection: string) => {
    const rebuilds: Record<string, (cfg: Config) => Promise<string>> = {
      entitlements: rebuildEntitlementsCommand,
      'audit-log': rebuildAuditLogCommand,
    };
    const rebuild = rebuilds[projection];
    if (!rebuild)
      throw new Error(
        `Unknown projection "${projection}". Rebuildable: ${Object.keys(rebuilds).join(', ')}.`,
      );
    process.stdout.write(`${await rebuild(config())}\n`);
  });

async function rebuildEntitlementsCommand(cfg: Config): Promise<string> {
  const side = await openReadSide(cfg);
  try {
    let bar: Progress | null = null;
    let phase = '';
    const result = await side.model.rebuild({
      onProgress: (p) => {
        if (p.phase !== phase) {
          bar?.stop();
          phase = p.phase;
          bar = progress(p.phase === 'fold' ? 'fold the log' : 'swap customers', p.total);
        }
        bar?.update(p.done);
      },
    });
    (bar as Progress | null)?.stop();
    return `entitlements rebuilt ${result.mode}: ${result.events} events, ${result.customers} customers, up to position ${result.position} (${result.caughtUp} caught up with live events)`;
  } finally {
    await side.close();
  }
}

async function rebuildAuditLogCommand(cfg: Config): Promise<string> {
  const logger = createLogger(cfg.LOG_LEVEL);
  const pool = new Pool({ connectionString: cfg.DATABASE_URL });
  const store = createEventStore({
    kind: cfg.EVENT_STORE,
    pool,
    connectionString: cfg.EVENTSTORE_CONNECTION_STRING,
  });
  try {
    await migratePostgres(pool);
    const bar = progress('rebuild audit-log', Number(await store.headPosition()));
    const result = await rebuildAuditLog({
      pool,
      store,
      logger,
      onProgress: (p) => bar.update(Number(p.position), `${p.events} events`),
    });
    bar.stop();
    return `audit-log rebuilt: ${result.events} events up to position ${result.position}; previous rows kept in ${result.retiredTable}`;
  } finally {
    await store.close();
    await pool.end();
  }
}

program
  .command('entitlements')
  .description("A customer's entitlements now, or as they were at an instant (--at)")
  .argument('<customerId>', 'Stripe customer id (cus_...)')
  .option('--at <instant>', 'ISO-8601 instant, e.g. 2026-03-01T00:00:00Z')
  .action(async (customerId: string, opts: { at?: string }) => {
    const at = opts.at === undefined ? undefined : new Date(opts.at);
    if (at && Number.isNaN(at.getTime()))
      throw new Error(`--at must be an ISO-8601 instant, got "${opts.at}"`);
    const cfg = config();
    const side = await openReadSide(cfg);
    try {
      const answer = at
        ? await side.queries.pointInTime(customerId, at)
        : await side.queries.getDocument(customerId);
      if (!answer) throw new Error(`No customer ${customerId}${at ? ` at ${at.toISOString()}` : ''}`);
      process.stdout.write(`${JSON.stringify(asOf(answer, at ?? new Date()), null, 2)}\n`);
    } finally {
      await side.close();
    }
  });

deadLettersCommand(program, config);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`billing-ledger: ${(error as Error).message}\n`);
  process.exit(1);
});
