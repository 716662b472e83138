import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  name = 'billing-ledger',
): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A logger that drops everything: for tests that don't care about logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
