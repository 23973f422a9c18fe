import { GraphQLError, locatedError, type GraphQLFormattedError } from 'graphql';
import pino from 'pino';
import { AppError, ErrorCode, badInput, conflict, notFound } from '../../src/errors';
import { fieldFromMessage, formatGraphQLError } from '../../src/graphql/errors';

/** A real pino logger writing JSON lines into `lines`. */
function captureLogger() {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** What graphql-js makes of an error thrown by a resolver at `path`. */
const thrownBy = (err: unknown, path: string[] = ['createJob']) => locatedError(err, undefined, path);

function format(error: unknown, requestId = 'req-42') {
  const { logger, lines } = captureLogger();
  const formatted: GraphQLFormattedError = error instanceof GraphQLError ? error.toJSON() : { message: String(error) };
  return { out: formatGraphQLError(formatted, error, { requestId, logger }), lines };
}

describe('GraphQL error formatting', () => {
  it('gives a service input error its code and the full input path of the field', () => {
    const { out, lines } = format(thrownBy(badInput('input.compute.minWorkers', 'must not exceed maxWorkers (2)')));
    expect(out).toEqual({
      message: 'input.compute.minWorkers: must not exceed maxWorkers (2)',
      path: ['createJob'],
      extensions: { code: 'BAD_USER_INPUT', field: 'input.compute.minWorkers' },
    });
    expect(lines).toEqual([]); // a client mistake is not a server problem
  });

  it.each([
    { err: notFound('Job', 'abc'), code: 'NOT_FOUND', message: 'Job "abc" does not exist' },
    { err: conflict('a run is active'), code: 'CONFLICT', message: 'a run is active' },
    {
      err: new AppError(ErrorCode.UNAVAILABLE, 'The SPARK backend is not available'),
      code: 'UNAVAILABLE',
      message: 'The SPARK backend is not available',
    },
  ])('maps a $code service error to its code and message, without a field', ({ err, code, message }) => {
    const { out } = format(thrownBy(err));
    expect(out.message).toBe(message);
    expect(out.extensions).toEqual({ code });
  });

  it('finds the AppError when a transport wrapped it again (graphql-ws iterator errors)', () => {
    const wrapped = new GraphQLError('x', { originalError: thrownBy(notFound('Run', 'r1')) });
    expect(format(wrapped).out.extensions).toEqual({ code: 'NOT_FOUND' });
  });

  it('masks an unexpected error with the request id, and logs it in full with that id', () => {
    const boom = new Error('connect ECONNREFUSED 10.0.0.7:5432 (password=hunter2)');
    const { out, lines } = format(thrownBy(boom, ['job']), 'req-7');
    expect(out).toEqual({
      message: 'Internal server error (request req-7)',
      path: ['job'],
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-7' },
    });
    expect(JSON.stringify(out)).not.toMatch(/hunter2|ECONNREFUSED|at /);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, requestId: 'req-7', err: { message: boom.message } });
    expect(lines[0].err.stack).toContain('error-format.test.ts');
  });

  it('masks a thrown non-Error value too', () => {
    expect(format(thrownBy('just a string')).out.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('keeps a variable coercion error as BAD_USER_INPUT naming the input path', () => {
    // As graphql-js reports it on the WebSocket path (no code yet) …
    const coercion = new GraphQLError(
      'Variable "$input" got invalid value "HADOOP" at "input.backend"; Value "HADOOP" does not exist in "ExecutionBackend" enum.',
    );
    expect(format(coercion).out.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.backend' });
    // … and as Apollo hands it over (code already set).
    const apollo = new GraphQLError(coercion.message, { originalError: coercion, extensions: { code: 'BAD_USER_INPUT' } });
    expect(format(apollo).out.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.backend' });
  });

  it("keeps GraphQL validation errors with Apollo's code and no masking", () => {
    const { out, lines } = format(new GraphQLError('Cannot query field "nope" on type "Query".'));
    expect(out).toEqual({ message: 'Cannot query field "nope" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(lines).toEqual([]);
  });

  it('keeps an error raised on purpose with a code, e.g. a scalar refusing a value', () => {
    const refused = new GraphQLError('DateTime value must be an ISO-8601 date-time string', { extensions: { code: 'BAD_USER_INPUT' } });
    expect(format(thrownBy(refused)).out.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('derives the field of missing and unknown input fields', () => {
    expect(
      fieldFromMessage('Variable "$input" got invalid value { tags: [] }; Field "name" of required type "String!" was not provided.'),
    ).toBe('input.name');
    expect(
      fieldFromMessage(
        'Variable "$input" got invalid value {} at "input.source"; Field "type" of required type "SourceType!" was not provided.',
      ),
    ).toBe('input.source.type');
    expect(fieldFromMessage('Variable "$input" got invalid value { x: 1 }; Field "x" is not defined by type "CreateJobInput".')).toBe(
      'input.x',
    );
    expect(fieldFromMessage('Cannot query field "nope" on type "Query".')).toBeUndefined();
  });
});
