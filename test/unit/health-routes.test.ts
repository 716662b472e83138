import type { Server } from 'node:http';
import { createGatewayApp } from '../../src/gateway/app';
import { healthRouter } from '../../src/gateway/health-routes';
import { silentLogger } from '../../src/shared/logger';

async function serve(
  checks: Parameters<typeof healthRouter>[0],
  timeoutMs?: number,
): Promise<{ url: string; server: Server }> {
  const app = createGatewayApp([healthRouter(checks, timeoutMs)], silentLogger);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server };
}

describe('/health and /ready', () => {
  it('is ready (200) when every dependency answers, naming each', async () => {
    const { url, server } = await serve({ postgres: async () => undefined, redis: async () => undefined });
    const response = await fetch(`${url}/ready`);
    const body = (await response.json()) as {
      status: string;
      dependencies: Record<string, { status: string }>;
    };
    server.close();
    expect(response.status).toBe(200);
    expect(body.status).toBe('ready');
    expect(Object.keys(body.dependencies)).toEqual(['postgres', 'redis']);
  });

  it('answers 503 naming the dependency that is down and why, and one that hangs', async () => {
    const { url, server } = await serve(
      {
        postgres: async () => undefined,
        kafka: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:19092');
        },
        redis: () => new Promise(() => undefined),
      },
      200,
    );
    const response = await fetch(`${url}/ready`);
    const body = (await response.json()) as {
      status: string;
      dependencies: Record<string, { status: string; error?: string }>;
    };
    const health = await fetch(`${url}/health`);
    server.close();
    expect(response.status).toBe(503);
    expect(body.status).toBe('not_ready');
    expect(body.dependencies.postgres?.status).toBe('up');
    expect(body.dependencies.kafka).toMatchObject({
      status: 'down',
      error: 'connect ECONNREFUSED 127.0.0.1:19092',
    });
    expect(body.dependencies.redis).toMatchObject({ status: 'down', error: 'no answer within 200 ms' });
    expect(health.status).toBe(200); // alive even when not ready
  });
});
