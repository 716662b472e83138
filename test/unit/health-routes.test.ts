import type { Server } from 'node:http';
import { createGatewayApp } from '../../src/gateway/app';
import { healthRouter, type HealthOptions } from '../../src/gateway/health-routes';
import { silentLogger } from '../../src/shared/logger';

async function serve(options: HealthOptions): Promise<{ url: string; server: Server }> {
  const app = createGatewayApp([healthRouter(options)], silentLogger);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server };
}

interface ReadyBody {
  status: string;
  components: Record<string, { status: string; state?: string; error?: string }>;
  dependencies: Record<string, { status: string; error?: string }>;
}

async function get(url: string): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

const up = async () => undefined;
const refused = async () => {
  throw new Error('connect ECONNREFUSED 127.0.0.1:19092');
};

describe('/health and /ready', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('is ready on both routes (200) when every dependency answers and every component runs, naming each', async () => {
    const served = await serve({
      intake: { postgres: up },
      workers: { redis: up, kafka: up },
      optional: { clickhouse: up },
      components: () => ({ relay: { status: 'ready', state: 'running', leader: true } }),
    });
    server = served.server;
    for (const route of ['/ready', '/ready/workers']) {
      const { status, body } = await get(`${served.url}${route}`);
      expect(status).toBe(200);
      expect(body.status).toBe('ready');
      expect(Object.keys(body.components).sort()).toEqual([
        'clickhouse',
        'kafka',
        'postgres',
        'redis',
        'relay',
      ]);
      expect(Object.values(body.components).every((c) => c.status === 'ready')).toBe(true);
      expect(body.components.relay).toMatchObject({ state: 'running', leader: true });
      expect(Object.keys(body.dependencies).sort()).toEqual(['clickhouse', 'kafka', 'postgres', 'redis']);
    }
  });

  it('keeps /ready at 200 for webhook intake when Kafka is down and a consumer has stopped; /ready/workers is 503', async () => {
    const served = await serve({
      intake: { postgres: up },
      workers: { kafka: refused, redis: up },
      components: () => ({
        'consumer:entitlements': { status: 'degraded', state: 'crashed', error: 'TypeError: boom' },
        'consumer:audit-log': { status: 'ready', state: 'running' },
      }),
    });
    server = served.server;
    const ready = await get(`${served.url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.components.postgres?.status).toBe('ready');
    expect(ready.body.components.kafka).toMatchObject({
      status: 'degraded',
      error: 'connect ECONNREFUSED 127.0.0.1:19092',
    });
    expect(ready.body.components['consumer:entitlements']).toMatchObject({
      status: 'degraded',
      state: 'crashed',
    });
    expect(ready.body.dependencies.kafka?.status).toBe('down');

    const workers = await get(`${served.url}/ready/workers`);
    expect(workers.status).toBe(503);
    expect(workers.body.status).toBe('degraded');
  });

  it('/ready/workers is 503 when only a component is degraded (every dependency up)', async () => {
    const served = await serve({
      intake: { postgres: up },
      workers: { kafka: up },
      components: () => ({ 'consumer:audit-log': { status: 'degraded', state: 'stopped' } }),
    });
    server = served.server;
    expect((await get(`${served.url}/ready`)).status).toBe(200);
    expect((await get(`${served.url}/ready/workers`)).status).toBe(503);
  });

  it('answers 503 on both when PostgreSQL (intake) is down or hangs, and stays alive on /health', async () => {
    const served = await serve({
      intake: { postgres: () => new Promise(() => undefined) },
      workers: { kafka: up },
      timeoutMs: 200,
    });
    server = served.server;
    const ready = await get(`${served.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('not_ready');
    expect(ready.body.components.postgres).toMatchObject({
      status: 'degraded',
      error: 'no answer within 200 ms',
    });
    expect((await get(`${served.url}/ready/workers`)).status).toBe(503);
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
  });

  it('reports a status provider that throws as degraded instead of failing the route', async () => {
    const served = await serve({
      intake: { postgres: up },
      components: () => {
        throw new Error('runtime not started');
      },
    });
    server = served.server;
    const ready = await get(`${served.url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.components.components).toMatchObject({
      status: 'degraded',
      error: 'runtime not started',
    });
    expect((await get(`${served.url}/ready/workers`)).status).toBe(503);
  });

  it('reports an optional dependency that is down without failing either route', async () => {
    const served = await serve({
      intake: { postgres: up },
      workers: { kafka: up },
      optional: { clickhouse: refused },
    });
    server = served.server;
    const ready = await get(`${served.url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.components.clickhouse?.status).toBe('degraded');
    expect((await get(`${served.url}/ready/workers`)).status).toBe(200);
  });
});
