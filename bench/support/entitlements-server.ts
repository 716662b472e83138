/**
 * The entitlements query path alone (express + Redis), run as a child process by the
 * `entitlements` bench so the load generator does not share its event loop.
 * Args: REDIS_URL PREFIX API_KEY. Prints `listening <port>` when ready.
 */
import { Redis } from 'ioredis';
import { loadCatalog } from '../../src/catalog/catalog';
import { createGatewayApp } from '../../src/gateway/app';
import { requireScope } from '../../src/gateway/auth';
import { entitlementsRouter } from '../../src/gateway/entitlements-routes';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import { entitlementsQueries } from '../../src/projections/entitlements/queries';
import { silentLogger } from '../../src/shared/logger';

const [redisUrl, prefix, apiKey] = process.argv.slice(2);
if (!redisUrl || !prefix || !apiKey) throw new Error('usage: entitlements-server REDIS_URL PREFIX API_KEY');
const catalog = loadCatalog();
const queries = entitlementsQueries({
  redis: new Redis(redisUrl),
  // No `?at=` in the bench: the log is not read.
  store: new MemoryEventStore(),
  catalog,
  logger: silentLogger,
  prefix,
});
const app = createGatewayApp(
  [
    entitlementsRouter({
      reader: queries,
      catalog,
      guard: requireScope([{ key: apiKey, scopes: ['*'] }], 'entitlements:read'),
    }),
  ],
  silentLogger,
);
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
