import { parseAuditQuery } from '../../src/gateway/audit-routes';
import { HttpError } from '../../src/gateway/http-error';
import { decodeCursor, encodeCursor } from '../../src/projections/audit/audit-queries';

/** The parameter a 400 names, or what parsing returned. */
function problem(query: Record<string, unknown>): {
  status: number;
  code: string;
  parameter: unknown;
  message: string;
} {
  try {
    parseAuditQuery('cus_1', query);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return {
      status: error.status,
      code: error.code,
      parameter: (error.details as { parameter?: unknown }).parameter,
      message: error.message,
    };
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('audit query parameters', () => {
  it('defaults to 50 rows, no filters, from the start', () => {
    expect(parseAuditQuery('cus_1', {})).toEqual({
      customerId: 'cus_1',
      from: undefined,
      to: undefined,
      types: undefined,
      limit: 50,
      after: undefined,
    });
  });

  it('reads instants, a comma-separated (or repeated) type list, a limit and a cursor', () => {
    const cursor = encodeCursor({ occurredAt: '2026-01-10T09:00:00.000Z', position: '17' });
    expect(
      parseAuditQuery('cus_1', {
        from: '2026-01-01T00:00:00Z',
        to: '2026-02-01T00:00:00+01:00',
        type: ['SubscriptionStarted,SubscriptionCancelled', 'CustomerDeleted'],
        limit: '200',
        cursor,
      }),
    ).toEqual({
      customerId: 'cus_1',
      from: new Date('2026-01-01T00:00:00Z'),
      to: new Date('2026-01-31T23:00:00Z'),
      types: ['SubscriptionStarted', 'SubscriptionCancelled', 'CustomerDeleted'],
      limit: 200,
      after: { occurredAt: '2026-01-10T09:00:00.000Z', position: '17' },
    });
  });

  it.each([
    [{ from: 'yesterday' }, 'from'],
    [{ to: '2026-01-01' }, 'to'],
    [{ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
    [{ type: 'Subscription-Started' }, 'type'],
    [{ type: 'A,,B' }, 'type'],
    [{ type: "x' OR 1=1" }, 'type'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '201' }, 'limit'],
    [{ limit: '2.5' }, 'limit'],
    [{ limit: ['1', '2'] }, 'limit'],
    [{ cursor: 'not-a-cursor' }, 'cursor'],
    [
      {
        cursor: Buffer.from('{"o":"2026-01-01T00:00:00Z","p":"99999999999999999999"}').toString('base64url'),
      },
      'cursor',
    ],
    [{ page: '2' }, 'page'],
  ])('answers 400 REQUEST.INVALID_PARAMETER for %j, naming %s', (query, parameter) => {
    const p = problem(query);
    expect(p).toMatchObject({ status: 400, code: 'REQUEST.INVALID_PARAMETER', parameter });
    expect(p.message).toContain(parameter);
  });
});

describe('audit cursor', () => {
  it('round-trips and is opaque base64url', () => {
    const cursor = { occurredAt: '2026-01-10T09:00:00.123Z', position: '9223372036854775807' };
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual(cursor);
  });

  it('is null for anything this API did not give out', () => {
    expect(decodeCursor('')).toBeNull();
    expect(decodeCursor(Buffer.from('[1,2]').toString('base64url'))).toBeNull();
    expect(
      decodeCursor(Buffer.from('{"o":"2026-01-10T09:00:00Z","p":"1","x":1}').toString('base64url')),
    ).toBeNull();
    expect(decodeCursor('a+b/c=')).toBeNull();
  });
});
