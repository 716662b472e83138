import type { Command } from 'commander';
import { openReadModels } from '../app/read-models';
import type { Config } from '../config/config';
import { createPool } from '../infra/postgres/pool';
import { replayDeadLetters, DeadLetterStore, type StoredDeadLetter } from '../runtime/dead-letters';

/** A mistake in the arguments: exit code 2, like commander's own usage errors. */
export class UsageError extends Error {}

/** `billing-ledger dead-letters list|replay`: inspect and re-drive what the consumers gave up on. */
export function deadLettersCommand(program: Command, config: () => Config): void {
  const command = program
    .command('dead-letters')
    .description('Messages the consumers dead-lettered: list them, or replay them once the cause is fixed');

  command
    .command('list')
    .description('Pending dead letters (with --all, replayed ones too)')
    .option('--consumer <name>', 'only this consumer (e.g. audit-log, entitlements)')
    .option('--all', 'include letters already replayed')
    .action(async (opts: { consumer?: string; all?: boolean }) =>
      run(async () => {
        const pool = createPool(config().DATABASE_URL, { max: 1 });
        try {
          const letters = await new DeadLetterStore(pool).list({ consumer: opts.consumer, all: opts.all });
          process.stdout.write(
            letters.length === 0
              ? `no ${opts.all ? '' : 'pending '}dead letters${opts.consumer ? ` for ${opts.consumer}` : ''}\n`
              : `${formatLetters(letters)}\n`,
          );
        } finally {
          await pool.end();
        }
      }),
    );

  command
    .command('replay')
    .description("Re-apply pending dead letters through their read model's replay, marking each replayed")
    .option('--consumer <name>', 'only this consumer')
    .option('--id <n>', 'only this letter')
    .action(async (opts: { consumer?: string; id?: string }) =>
      run(async () => {
        if (opts.id !== undefined && !/^[1-9]\d{0,18}$/.test(opts.id))
          throw new UsageError(`--id must be a letter id (a positive integer), got "${opts.id}"`);
        const opened = await openReadModels(config());
        try {
          const names = opened.models.map((model) => model.name);
          if (opts.consumer !== undefined && !names.includes(opts.consumer))
            throw new UsageError(`Unknown consumer "${opts.consumer}". Consumers: ${names.join(', ')}.`);
          const outcomes = await replayDeadLetters(opened.deadLetters, opened.models, opts);
          if (outcomes.length === 0) {
            process.stdout.write(
              opts.id ? `no pending dead letter with id ${opts.id}\n` : 'no pending dead letters\n',
            );
            return opts.id ? 1 : 0;
          }
          for (const { letter, outcome, detail } of outcomes)
            process.stdout.write(
              `${letter.id} ${letter.consumer} ${letter.event?.type ?? '-'}: ${outcome}${detail ? ` (${detail})` : ''}\n`,
            );
          const count = (outcome: string) => outcomes.filter((o) => o.outcome === outcome).length;
          process.stdout.write(
            `${count('replayed')} replayed, ${count('failed')} failed, ${count('not_an_event')} not bus events (left pending: see dead-letters list)\n`,
          );
          return count('failed') === 0 ? 0 : 1;
        } finally {
          await opened.close();
        }
      }),
    );
}

async function run(work: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await work()) ?? 0;
  } catch (error) {
    process.stderr.write(`billing-ledger: ${(error as Error).message}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}

const MAX_REASON = 80;

/** A plain table: id, consumer, event type, position, reason, created, replayed. */
export function formatLetters(letters: readonly StoredDeadLetter[]): string {
  const rows = [
    ['ID', 'CONSUMER', 'EVENT TYPE', 'POSITION', 'REASON', 'CREATED', 'REPLAYED'],
    ...letters.map((letter) => [
      letter.id,
      letter.consumer,
      letter.event?.type ?? '(not an event)',
      letter.event?.position ?? `${letter.partition}@${letter.offset}`,
      letter.reason.length > MAX_REASON ? `${letter.reason.slice(0, MAX_REASON - 1)}…` : letter.reason,
      letter.createdAt.toISOString(),
      letter.replayedAt?.toISOString() ?? '-',
    ]),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
