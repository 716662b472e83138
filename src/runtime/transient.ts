/**
 * Tells an infrastructure hiccup (retry the same batch, it will pass once the service is back)
 * from a fault in the code or the data (retrying changes nothing: isolate and dead-letter).
 */

/** SQLSTATE classes and codes of PostgreSQL that a retry can outlive. */
const PG_TRANSIENT_CLASSES = ['08', '53'];
const PG_TRANSIENT_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57014', // query_canceled (statement timeout)
  '55P03', // lock_not_available
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

const NODE_TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Messages of pg and ioredis for a lost or slow connection (they carry no code). */
const TRANSIENT_MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /^Query read timeout/i,
  /^Connection is closed\.?$/i,
  /^Command timed out/i,
  /Stream isn't writeable/i,
  /^Reached the max retries per request limit/i,
  /^(LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN) /,
];

const TRANSIENT_NAMES = new Set(['MaxRetriesPerRequestError']);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function transientItself(error: ErrorLike): boolean {
  const code = typeof error.code === 'string' ? error.code : undefined;
  if (code !== undefined) {
    if (NODE_TRANSIENT_CODES.has(code) || PG_TRANSIENT_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && PG_TRANSIENT_CLASSES.includes(code.slice(0, 2))) return true;
  }
  const name = typeof error.name === 'string' ? error.name : '';
  if (TRANSIENT_NAMES.has(name)) return true;
  // kafkajs marks each of its errors; retries-exceeded wraps a retriable cause (walked below).
  if (name.startsWith('KafkaJS') && error.retriable === true) return true;
  const message = typeof error.message === 'string' ? error.message : '';
  return TRANSIENT_MESSAGES.some((pattern) => pattern.test(message));
}

/**
 * True when `error`, or an error it wraps (`cause`, AggregateError's `errors`), is an
 * infrastructure failure worth retrying: a TypeError("fetch failed") caused by ECONNREFUSED
 * is transient, a TypeError of our own is not.
 */
export function isTransient(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false;
  const candidate = error as ErrorLike;
  if (transientItself(candidate)) return true;
  if (isTransient(candidate.cause, depth + 1)) return true;
  return Array.isArray(candidate.errors) && candidate.errors.some((inner) => isTransient(inner, depth + 1));
}

/** The innermost `cause` (kafkajs wraps what a handler threw in its own errors). */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 8; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (typeof cause !== 'object' || cause === null) break;
    current = cause;
  }
  return current;
}

/** "Name: message", the reason a dead letter carries. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown value: ${String(error)}`;
}
