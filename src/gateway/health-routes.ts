import express, { type Router } from 'express';

export type DependencyCheck = () => Promise<void>;

/** `/health`: the process is alive. `/ready`: every dependency answers, each reported by name. */
export function healthRouter(checks: Record<string, DependencyCheck>, timeoutMs = 2000): Router {
  const router = express.Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });
  router.get('/ready', async (_req, res) => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const started = Date.now();
        try {
          await withTimeout(check(), timeoutMs);
          return [name, { status: 'up', latencyMs: Date.now() - started }] as const;
        } catch (error) {
          return [
            name,
            { status: 'down', latencyMs: Date.now() - started, error: (error as Error).message },
          ] as const;
        }
      }),
    );
    const dependencies = Object.fromEntries(entries);
    const ready = entries.every(([, result]) => result.status === 'up');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', dependencies });
  });
  return router;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
