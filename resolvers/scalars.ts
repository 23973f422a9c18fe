import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { JSONResolver } from 'graphql-scalars';

// The form Date#toISOString gives (UTC, milliseconds), e.g. 2026-11-27T19:00:00.000Z.
const CANONICAL_UTC = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

// An ISO-8601 date-time with a time zone designator ("Z" or an offset), e.g. 2026-11-27T19:00:00.000Z.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function toDate(value: unknown, where: string): Date {
  if (typeof value === 'string' && ISO_DATE_TIME.test(value)) {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new GraphQLError(
    `DateTime ${where} must be an ISO-8601 date-time string with a time zone (e.g. "2026-11-27T19:00:00Z"); got ${JSON.stringify(value)}`,
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}

/**
 * `DateTime`: an ISO-8601 string in UTC on the wire. Serializes a `Date` or an ISO string (what the
 * domain views hold); parses input to a `Date`. Anything else is refused with a message saying what
 * was expected (BAD_USER_INPUT for input; an internal error for output, since that is a server bug).
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'ISO-8601 date-time string, UTC (e.g. 2026-11-27T19:00:00.000Z)',
  serialize(value) {
    if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
    // What the views hold (toISOString of the database's timestamps) is sent as it is, without a
    // Date made and formatted again for every date field of every object of every response.
    if (typeof value === 'string' && value.length === 24 && CANONICAL_UTC.test(value)) return value;
    if (typeof value === 'string') {
      const d = new Date(value);
      if (!Number.isNaN(d.getTime())) return d.toISOString();
    }
    throw new GraphQLError(`DateTime cannot represent ${JSON.stringify(value)}: expected a Date or an ISO-8601 string`);
  },
  parseValue: (value) => toDate(value, 'value'),
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError(`DateTime literal must be a string, got ${ast.kind}`, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return toDate(ast.value, 'literal');
  },
});

/** `JSON`: any JSON value (objects, arrays, strings, numbers, booleans, null). */
export const JSONScalar = JSONResolver;
