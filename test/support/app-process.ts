/**
 * The system as users run it: `billing-ledger start` in its own process, against the real
 * services, in an environment of its own (database, Kafka topic, Redis database). For fault
 * and load work: a process can be killed with SIGKILL, several can share one environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from './postgres';
import { eventually } from './eventually';

const ROOT = path.join(__dirname, '..', '..');
export const PROCESS_API_KEY = 'process-test-key';

export interface ProcessEnvironment {
  env: Record<string, string>;
  db: TestDatabase;
  pool: Pool;
  redisUrl: string;
  topic: string;
  /** Removes the database, the topics and the Redis database's keys. */
  drop(): Promise<void>;
}

/** A fresh environment: its own database, Kafka topic and Redis database (by index). */
export async function createProcessEnvironment(
  options: { redisDb: number; partitions?: number; extraEnv?: Record<string, string> } = { redisDb: 9 },
): Promise<ProcessEnvironment> {
  const db = await createTestDatabase({ prefix: 'proc' });
  const topic = `billing-ledger.proc.${db.url.split('/').pop()}`;
  const redisBase = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';
  const redisUrl = `${redisBase.replace(/\/\d+$/, '')}/${options.redisDb}`;
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  redis.disconnect();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    KAFKA_TOPIC: topic,
    KAFKA_PARTITIONS: String(options.partitions ?? 6),
    API_KEYS: `${PROCESS_API_KEY}:*`,
    LOG_LEVEL: process.env.PROCESS_LOG_LEVEL ?? 'warn',
    ...options.extraEnv,
  };
  return {
    env,
    db,
    pool: db.pool,
    redisUrl,
    topic,
    async drop() {
      const admin = new Kafka({ brokers: env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
      await admin.disconnect();
      const r = new Redis(redisUrl);
      await r.flushdb();
      r.disconnect();
      await db.drop();
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export interface AppProcess {
  url: string;
  child: ChildProcess;
  /** What the process wrote to stderr and stdout (last 200 lines). */
  output(): string;
  /** SIGKILL: no shutdown hook runs. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  exited(): boolean;
}

/** Starts `billing-ledger start` and resolves once `/health` answers. */
export async function startAppProcess(
  environment: ProcessEnvironment,
  options: {
    port?: number;
    args?: string[];
    /** Flags for node itself (e.g. --cpu-prof). */
    nodeArgs?: string[];
    env?: Record<string, string>;
    healthTimeoutMs?: number;
  } = {},
): Promise<AppProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      path.join(ROOT, 'bin', 'billing-ledger.js'),
      'start',
      ...(options.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { ...environment.env, PORT: String(port), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const app: AppProcess = {
    url,
    child,
    output: () => lines.join('\n'),
    exited: () => exited,
    async kill() {
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
  if (options.args?.includes('--no-gateway')) {
    // Workers only: nothing to ask; make sure it did not die at start.
    await new Promise((r) => setTimeout(r, 1000));
    if (exited) throw new Error(`the workers exited during start:\n${app.output()}`);
    return app;
  }
  try {
    await eventually(
      async () => {
        if (exited) throw new Error(`the app exited during start:\n${app.output()}`);
        return fetch(`${url}/health`)
          .then((r) => r.status)
          .catch(() => 0);
      },
      (status) => status === 200,
      { timeoutMs: options.healthTimeoutMs ?? 60_000, intervalMs: 50 },
    );
  } catch (error) {
    await app.kill();
    throw error;
  }
  return app;
}

export interface PipelineProgress {
  pendingInbox: number;
  events: number;
  auditRows: number;
  /** Customers whose entitlements position is behind their last event in the log. */
  customersBehind: number;
  customers: number;
}

/**
 * How far the read models are behind the log, seen from outside: the inbox, the audit log
 * (one row per event), and each customer's entitlements position against its last event.
 */
export async function pipelineProgress(
  environment: ProcessEnvironment,
  url: string,
  customerIds: readonly string[],
): Promise<PipelineProgress> {
  const pool = environment.pool;
  const [{ rows: inbox }, { rows: events }, { rows: audit }, { rows: heads }] = await Promise.all([
    pool.query(`SELECT count(*)::int AS n FROM stripe_inbox WHERE status = 'pending'`),
    pool.query(`SELECT count(*)::int AS n FROM events`),
    pool.query(`SELECT count(*)::int AS n FROM audit_log`),
    pool.query(`SELECT data->>'customerId' AS customer, max(position)::text AS head FROM events GROUP BY 1`),
  ]);
  const head = new Map(heads.map((r) => [r.customer as string, BigInt(r.head)]));
  let behind = 0;
  const docs = await fetchEntitlements(url, customerIds);
  for (const id of customerIds) {
    const last = head.get(id);
    if (last === undefined) continue;
    const doc = docs.get(id);
    const position = doc && typeof doc.position === 'string' ? BigInt(doc.position) : -1n;
    if (position < last) behind += 1;
  }
  return {
    pendingInbox: inbox[0].n,
    events: events[0].n,
    auditRows: audit[0].n,
    customersBehind: behind,
    customers: head.size,
  };
}

/** Waits until every read model has caught up with the log and the inbox is drained. */
export async function waitSettled(
  environment: ProcessEnvironment,
  url: string,
  customerIds: readonly string[],
  timeoutMs = 120_000,
): Promise<PipelineProgress> {
  return eventually(
    () => pipelineProgress(environment, url, customerIds),
    (p) => p.pendingInbox === 0 && p.auditRows === p.events && p.customersBehind === 0,
    { timeoutMs, intervalMs: 250 },
  );
}

/** Every customer's entitlements answer (404 is left out), 32 requests at a time. */
export async function fetchEntitlements(
  url: string,
  customerIds: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const answers = new Map<string, Record<string, unknown>>();
  let next = 0;
  const worker = async () => {
    while (next < customerIds.length) {
      const id = customerIds[next++]!;
      const response = await fetch(`${url}/v1/customers/${id}/entitlements`, {
        headers: { authorization: `Bearer ${PROCESS_API_KEY}` },
      }).catch(() => null);
      if (response?.status === 200) answers.set(id, (await response.json()) as Record<string, unknown>);
      else await response?.body?.cancel();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return answers;
}

/**
 * The read models as a user sees them, without what legitimately differs between two runs of
 * the same input: log positions, and the exact events (their number depends on the order the
 * inbox happened to process a shuffled delivery; the state they converge to does not).
 * - entitlements: every customer's answer without its position;
 * - auditStripeIds: the Stripe events that left a trace in the audit log, sorted;
 * - auditMissing / auditExtra / auditDoubled: audit rows against the events of the log
 *   (one row per event: anything else is a loss or a double).
 */
export async function readModelSnapshot(
  environment: ProcessEnvironment,
  url: string,
  customerIds: readonly string[],
): Promise<{
  entitlements: Record<string, unknown>;
  auditRows: number;
  events: number;
  auditStripeIds: string[];
  auditMissing: number;
  auditExtra: number;
  auditDoubled: number;
}> {
  const docs = await fetchEntitlements(url, customerIds);
  const entitlements: Record<string, unknown> = {};
  for (const id of [...customerIds].sort()) {
    const doc = docs.get(id);
    if (!doc) continue;
    const { position: _position, ...rest } = doc;
    entitlements[id] = rest;
  }
  const pool = environment.pool;
  const [{ rows: counts }, { rows: ids }, { rows: diff }] = await Promise.all([
    pool.query(
      `SELECT (SELECT count(*) FROM audit_log)::int AS audit, (SELECT count(*) FROM events)::int AS events,
              (SELECT count(*) FROM (SELECT event_id FROM audit_log GROUP BY 1 HAVING count(*) > 1) d)::int AS doubled`,
    ),
    pool.query(`SELECT DISTINCT stripe_event_id FROM audit_log WHERE stripe_event_id IS NOT NULL ORDER BY 1`),
    pool.query(
      `SELECT (SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.event_id = e.event_id))::int AS missing,
              (SELECT count(*) FROM audit_log a WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = a.event_id))::int AS extra`,
    ),
  ]);
  return {
    entitlements,
    auditRows: counts[0].audit,
    events: counts[0].events,
    auditStripeIds: ids.map((r) => r.stripe_event_id as string),
    auditMissing: diff[0].missing,
    auditExtra: diff[0].extra,
    auditDoubled: counts[0].doubled,
  };
}
