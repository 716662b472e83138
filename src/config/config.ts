import { z } from 'zod';

/**
 * Configuration from the environment (CONTRACTS.md). Parsed once at start; a bad value
 * stops the process with a message naming the variable.
 */

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${protocols.join(' or ')}` },
  );

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0),
);

const apiKeys = z.string().transform((value, ctx) => {
  const keys: ApiKey[] = [];
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const key = separator < 0 ? entry : entry.slice(0, separator);
    const scopes = separator < 0 ? undefined : entry.slice(separator + 1);
    if (!key || key.length < 8) {
      ctx.addIssue({ code: 'custom', message: `key "${key ?? ''}" must be at least 8 characters` });
      return z.NEVER;
    }
    keys.push({ key, scopes: (scopes ?? '*').split('|').filter(Boolean) });
  }
  return keys;
});

const poolSize = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1)
    .max(500)
    .default(fallback);

/** A duration in milliseconds, 100 ms to 1 hour. */
const millis = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(100)
    .max(3_600_000)
    .default(fallback);

export interface ApiKey {
  key: string;
  /** `*`, or scopes such as `entitlements:read`, `audit:read`, `revenue:read`, `portal:write`. */
  scopes: string[];
}

const schema = z
  .object({
    PORT: z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a port number')
      .min(0)
      .max(65535)
      .default(3000),
    STRIPE_WEBHOOK_SECRET: commaList.pipe(
      z
        .array(z.string().startsWith('whsec_', 'each secret must start with whsec_'))
        .min(1, 'at least one secret'),
    ),
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_(test|live)_\w+$/, 'must look like sk_test_... or sk_live_...'),
    STRIPE_API_URL: url(['http', 'https']).optional(),
    DATABASE_URL: url(['postgres', 'postgresql']),
    EVENT_STORE: z.enum(['postgres', 'eventstoredb', 'memory']).default('postgres'),
    EVENTSTORE_CONNECTION_STRING: url([
      'kurrentdb',
      'esdb',
      'kurrent',
      'esdb+discover',
      'kurrentdb+discover',
    ]).optional(),
    KAFKA_BROKERS: commaList.pipe(
      z
        .array(z.string().regex(/^[\w.-]+:\d{1,5}$/, 'each broker must be host:port'))
        .min(1, 'at least one broker'),
    ),
    KAFKA_TOPIC: z
      .string()
      .regex(/^[\w.-]{1,200}$/)
      .default('billing-ledger.events'),
    KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
    REDIS_URL: url(['redis', 'rediss']),
    CLICKHOUSE_URL: url(['http', 'https']),
    API_KEYS: apiKeys.default([]),
    PLAN_CATALOG: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    WEBHOOK_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(10_000_000)
      .default(512 * 1024),
    // PostgreSQL: one pool per job, so reads and workers cannot starve webhook intake.
    PG_INTAKE_POOL_MAX: poolSize(10),
    PG_WORKER_POOL_MAX: poolSize(10),
    PG_READ_POOL_MAX: poolSize(5),
    PG_CONNECT_TIMEOUT_MS: millis(5_000),
    PG_INTAKE_STATEMENT_TIMEOUT_MS: millis(5_000),
    PG_STATEMENT_TIMEOUT_MS: millis(30_000),
    PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: millis(60_000),
    REDIS_CONNECT_TIMEOUT_MS: millis(5_000),
    REDIS_COMMAND_TIMEOUT_MS: millis(5_000),
    CLICKHOUSE_REQUEST_TIMEOUT_MS: millis(30_000),
    /** How long a graceful stop may take (SIGTERM/SIGINT) before the process exits anyway. */
    SHUTDOWN_TIMEOUT_MS: millis(15_000),
  })
  .superRefine((value, ctx) => {
    if (value.EVENT_STORE === 'eventstoredb' && !value.EVENTSTORE_CONNECTION_STRING) {
      ctx.addIssue({
        code: 'custom',
        path: ['EVENTSTORE_CONNECTION_STRING'],
        message: 'is required when EVENT_STORE=eventstoredb',
      });
    }
  });

export type Config = z.output<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super('Invalid configuration:\n' + problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? 'environment'),
      message:
        issue.message === 'Invalid input: expected string, received undefined'
          ? 'is required'
          : issue.message,
    })),
  );
}
