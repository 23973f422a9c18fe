import 'reflect-metadata';
import { getIntrospectionQuery, GraphQLError, parse, type GraphQLSchema } from 'graphql';
import { buildJobwireSchema } from '../../src/graphql/schema';
import { schemaParts } from '../../resolvers';
import { COST } from '../../src/graphql/costs';
import { formatGraphQLError } from '../../src/graphql/errors';
import { queryComplexity, validateDocument, validateOperation, type QueryLimits } from '../../src/graphql/limits';
import { makeLogger } from '../../src/logger';

const limits: QueryLimits = {
  maxDepth: 10,
  maxComplexity: 20_000,
  maxQueryBytes: 20_000,
  maxPageSize: 1000,
  maxAliases: 15,
  maxRootMutations: 5,
  introspection: false,
};

/** `n` aliased copies of `field` (`a0: field a1: field …`). */
const aliased = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');

const createJob = `createJob(input: { name: "x", backend: LOCAL, source: { type: LOCAL, params: { path: "/tmp/x.csv" } }, destination: { schema: "public", table: "t" } }) { id }`;

describe('selection limits and costs', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildJobwireSchema(schemaParts);
  });

  const errorsOf = (query: string, l: QueryLimits = limits) =>
    validateOperation(schema, parse(query), l).map((e) => ({ message: e.message, code: e.extensions.code }));
  const cost = (query: string) => queryComplexity(schema, parse(query));

  describe('aliases in the complexity model', () => {
    it('charges every alias of a field, not the field once (graphql-query-complexity sums field nodes)', () => {
      const one = cost('{ jobStats { running } }');
      expect(cost(`{ ${aliased(10, 'jobStats { running }')} }`)).toBe(10 * one);
      expect(cost(`{ ${aliased(10, 'jobs(first: 5) { totalCount }')} }`)).toBe(10 * cost('{ jobs(first: 5) { totalCount } }'));
    });

    it('charges the costly fields their cost plus their selection', () => {
      expect(cost('{ jobStats { running } }')).toBe(COST.stats + 1);
      expect(cost('{ preflightJob(id: "1") { ok } }')).toBe(COST.preflight + 1);
      expect(cost('{ ingestStatus { groupId } }')).toBe(COST.ingestStatus + 1);
      expect(cost('mutation { testSourceConnection(input: { type: LOCAL, params: {} }) { ok } }')).toBe(COST.connectionTest + 1);
    });

    it('charges every mutation field, a job it returns included', () => {
      expect(cost(`mutation { ${createJob} }`)).toBe(COST.mutation + 1);
      expect(cost(`mutation { ${aliased(3, createJob)} }`)).toBe(3 * (COST.mutation + 1));
      expect(cost('mutation { deleteJob(id: "1") }')).toBe(COST.mutation);
    });

    it('over the budget at 800 aliases of jobStats, even with the alias limit raised', () => {
      const errors = errorsOf(`{ ${aliased(800, 'jobStats { running }')} }`, { ...limits, maxAliases: 10_000 });
      expect(errors).toEqual([
        { message: `Query complexity ${800 * (COST.stats + 1)} exceeds the limit of 20000`, code: 'GRAPHQL_VALIDATION_FAILED' },
      ]);
    });
  });

  describe('aliases', () => {
    it('accepts as many aliases as the limit', () => {
      expect(errorsOf(`{ ${aliased(15, 'jobStats { running }')} }`)).toEqual([]);
    });

    it('refuses one more, saying how many, before anything runs', () => {
      expect(errorsOf(`{ ${aliased(16, 'jobStats { running }')} }`)).toEqual([
        { message: 'Operation has 16 aliases; the limit is 15', code: 'GRAPHQL_VALIDATION_FAILED' },
      ]);
    });

    it('refuses 800 aliases of jobStats quickly', () => {
      const query = `{ ${aliased(800, 'jobStats{running}')} }`;
      expect(Buffer.byteLength(query)).toBeLessThanOrEqual(limits.maxQueryBytes);
      const started = performance.now();
      const errors = errorsOf(query);
      const ms = performance.now() - started;
      expect(errors.map((e) => e.message)).toContain('Operation has 800 aliases; the limit is 15');
      expect(ms).toBeLessThan(3000); // well under a second here, even loaded; executed, the 800 took 7.4 s
    });

    it('counts aliases inside nested fields and each time a fragment is spread', () => {
      const query = `
        query { a: jobs { ...J } b: jobs { ...J } c: jobs { ...J } }
        fragment J on JobConnection { x: totalCount y: totalCount edges { node { ...N } } }
        fragment N on Job { p: id q: id }`;
      // 3 root aliases + 3 × (2 + 2)
      expect(errorsOf(query)).toEqual([]);
      expect(errorsOf(query, { ...limits, maxAliases: 14 })).toEqual([
        { message: 'Operation has 15 aliases; the limit is 14', code: 'GRAPHQL_VALIDATION_FAILED' },
      ]);
    });

    it('lets a field without an alias repeat (execution merges it: one resolver call)', () => {
      expect(errorsOf(`{ ${Array.from({ length: 40 }, () => 'jobStats { running }').join(' ')} }`)).toEqual([]);
    });
  });

  describe('root mutation fields', () => {
    it('accepts as many as the limit', () => {
      expect(errorsOf(`mutation { ${aliased(5, createJob)} }`)).toEqual([]);
    });

    it('refuses 150 aliased createJob as one error, whatever the alias limit', () => {
      expect(errorsOf(`mutation { ${aliased(150, createJob)} }`, { ...limits, maxAliases: 1000 })).toEqual([
        { message: 'Mutation has 150 root fields; the limit is 5 per request', code: 'GRAPHQL_VALIDATION_FAILED' },
      ]);
    });

    it('counts root fields brought by fragments, and a repeated field without alias once', () => {
      const query = `
        mutation { ...M ... on Mutation { c: deleteJob(id: "3") } deleteJob(id: "1") deleteJob(id: "1") }
        fragment M on Mutation { a: deleteJob(id: "1") b: deleteJob(id: "2") d: deleteJob(id: "4") e: deleteJob(id: "5") }`;
      expect(errorsOf(query)).toEqual([
        { message: 'Mutation has 6 root fields; the limit is 5 per request', code: 'GRAPHQL_VALIDATION_FAILED' },
      ]);
    });

    it('does not limit the root fields of a query this way', () => {
      expect(
        errorsOf(
          '{ jobs { totalCount } runs { totalCount } jobStats { running } computePresets { name } sourceTypes { type } ingestStatus { groupId } }',
        ),
      ).toEqual([]);
    });
  });

  describe('introspection', () => {
    const refused = (field: string) => ({
      message: `Introspection is off on this gateway (field "${field}"); GRAPHQL_INTROSPECTION=true turns it on`,
      code: 'GRAPHQL_VALIDATION_FAILED',
    });

    it('refuses __schema and __type when off', () => {
      expect(errorsOf('{ __schema { queryType { name } } }')).toEqual([refused('__schema')]);
      expect(errorsOf('{ __type(name: "Job") { name } }')).toEqual([refused('__type')]);
      expect(errorsOf(getIntrospectionQuery()).length).toBeGreaterThan(0);
    });

    it('still answers __typename', () => {
      expect(errorsOf('{ __typename jobs { __typename totalCount } }')).toEqual([]);
    });

    it("lets GraphiQL's introspection query through when on", () => {
      expect(errorsOf(getIntrospectionQuery({ descriptions: true }), { ...limits, introspection: true })).toEqual([]);
    });
  });

  describe('"Did you mean" hints', () => {
    const logger = makeLogger('silent');
    const format = (error: GraphQLError, hideSuggestions: boolean) =>
      formatGraphQLError(error.toJSON(), error, { requestId: 'r', logger, hideSuggestions }).message;

    it('are dropped from validation errors when introspection is off, kept when on', () => {
      const [error] = validateDocument(schema, parse('{ jobz { totalCount } }'), limits);
      expect(error.message).toMatch(/Did you mean/);
      expect(format(error, true)).toBe('Cannot query field "jobz" on type "Query".');
      expect(format(error, false)).toBe(error.message);
    });

    it('are dropped from variable coercion errors too', () => {
      const error = new GraphQLError(
        'Variable "$status" got invalid value "RUNNIN"; Value "RUNNIN" does not exist in "RunStatus" enum. Did you mean the enum value "RUNNING"?',
      );
      expect(format(error, true)).toBe('Variable "$status" got invalid value "RUNNIN"; Value "RUNNIN" does not exist in "RunStatus" enum.');
    });
  });
});
