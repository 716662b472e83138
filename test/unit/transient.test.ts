import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { z } from 'zod';
import { StoreLostError } from '../../src/runtime/read-model';
import { describeError, isTransient } from '../../src/runtime/transient';

const withCode = (code: string, message = 'failed'): Error => Object.assign(new Error(message), { code });

describe('isTransient: infrastructure failures are retried, faults of code or data are not', () => {
  it.each([
    ['pg connection exception (class 08)', withCode('08006')],
    ['pg connection does not exist (08003)', withCode('08003')],
    ['pg too many connections (class 53)', withCode('53300')],
    ['pg admin shutdown (57P01)', withCode('57P01')],
    ['pg crash shutdown (57P02)', withCode('57P02')],
    ['pg cannot connect now (57P03)', withCode('57P03')],
    ['pg serialization failure (40001)', withCode('40001')],
    ['pg deadlock (40P01)', withCode('40P01')],
    ['pg statement timeout (57014)', withCode('57014')],
    ['pg pool: connection terminated', new Error('Connection terminated unexpectedly')],
    ['pg pool: connect timeout', new Error('timeout exceeded when trying to connect')],
    ['ioredis: connection closed', new Error('Connection is closed.')],
    ['ioredis: command timeout', new Error('Command timed out')],
    [
      'ioredis: max retries per request',
      Object.assign(new Error('Reached the max retries per request limit (which is 3).'), {
        name: 'MaxRetriesPerRequestError',
      }),
    ],
    ['redis loading its dataset', new Error('LOADING Redis is loading the dataset in memory')],
    ['ECONNREFUSED', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['ECONNRESET', withCode('ECONNRESET')],
    ['ETIMEDOUT', withCode('ETIMEDOUT')],
    ['EPIPE', withCode('EPIPE')],
    ['kafkajs connection error', new KafkaJSConnectionError('Connection error')],
    [
      'kafkajs retriable protocol error',
      // The broker's error table marks each protocol error; kafkajs passes it in this shape.
      new KafkaJSProtocolError(
        Object.assign(new Error('leader not available'), {
          type: 'LEADER_NOT_AVAILABLE',
          code: 5,
          retriable: true,
        }),
      ),
    ],
    [
      'kafkajs retries exceeded on a retriable cause',
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error'), {
        retryCount: 5,
        retryTime: 100,
      }),
    ],
    [
      'fetch failed caused by ECONNREFUSED (a TypeError)',
      new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }),
    ],
    [
      'AggregateError of refused connections',
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect'),
    ],
  ])('%s is transient', (_name, error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ['TypeError', new TypeError("Cannot read properties of undefined (reading 'tier')")],
    ['RangeError', new RangeError('Invalid time value')],
    ['SyntaxError', new SyntaxError('Unexpected token < in JSON')],
    ['zod error', z.object({ a: z.string() }).safeParse({}).error],
    [
      'domain error with a code',
      Object.assign(new Error('already cancelled'), { code: 'SUBSCRIPTION.ALREADY_CANCELLED' }),
    ],
    ['pg unique violation (23505)', withCode('23505')],
    ['pg undefined column (42703)', withCode('42703')],
    ['StoreLostError (handled by the runtime itself)', new StoreLostError('entitlements', 'marker missing')],
    ['kafkajs non-retriable error', new KafkaJSNonRetriableError('bad config')],
    ['a thrown string', 'boom'],
    ['undefined', undefined],
  ])('%s is not transient', (_name, error) => {
    expect(isTransient(error)).toBe(false);
  });

  it('describes an error as name and message, the reason a dead letter carries', () => {
    expect(describeError(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
    expect(describeError('boom')).toBe('thrown value: boom');
  });
});
