import { connectClickHouse, pingClickHouse } from '../../src/infra/clickhouse/clickhouse';

describe('ClickHouse connectivity', () => {
  it('reaches the server, creates the billing database and runs a query', async () => {
    const client = await connectClickHouse(process.env.CLICKHOUSE_URL as string);
    try {
      await pingClickHouse(client);
      const result = await client.query({
        query: 'SELECT version() AS version, currentDatabase() AS db',
        format: 'JSONEachRow',
      });
      const [row] = (await result.json()) as { version: string; db: string }[];
      expect(row?.db).toBe('billing');
      expect(row?.version).toMatch(/^\d+\.\d+/);
      console.log(`ClickHouse ${row?.version} answers; database ${row?.db}`);
    } finally {
      await client.close();
    }
  });
});
