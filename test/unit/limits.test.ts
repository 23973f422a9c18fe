import { originAllowed } from '../../src/server/ws';
import 'reflect-metadata';
import { getIntrospectionQuery, parse, type GraphQLSchema } from 'graphql';
import { buildJobwireSchema } from '../../src/graphql/schema';
import { schemaParts } from '../../resolvers';
import { checkComplexity, checkQuerySize, queryComplexity, validateOperation, type QueryLimits } from '../../src/graphql/limits';
import { complexityVariables, makeComplexityCheck } from '../../src/graphql/complexity-cache';
import { DocumentCache } from '../../src/graphql/document-cache';

const limits: QueryLimits = {
  maxDepth: 10,
  maxComplexity: 5000,
  maxQueryBytes: 20_000,
  maxPageSize: 1000,
  maxAliases: 15,
  maxRootMutations: 5,
  introspection: true,
};

/** `{ jobs { edges { node { … } } } }` nested until the field depth is `depth`. */
function nestedQuery(depth: number): string {
  // jobs(1) edges(2) node(3) runs(4) edges(5) node(6) job(7) runs(8) edges(9) node(10) job(11) …
  const path = ['jobs', 'edges', 'node', 'runs', 'edges', 'node', 'job', 'runs', 'edges', 'node', 'job', 'runs', 'edges', 'node', 'job'];
  const fields = path.slice(0, depth - 1);
  const leaf = { jobs: 'totalCount', runs: 'totalCount', edges: 'cursor', node: 'id', job: 'id' }[fields[fields.length - 1]];
  return `{ ${fields.map((f) => `${f} {`).join(' ')} ${leaf} ${fields.map(() => '}').join(' ')} }`;
}

describe('query limits', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildJobwireSchema(schemaParts);
  });

  const errorsOf = (query: string, variables?: Record<string, unknown>, l = limits) =>
    validateOperation(schema, parse(query), l, variables).map((e) => ({ message: e.message, code: e.extensions.code }));

  describe('depth', () => {
    it('accepts a query exactly at the depth limit', () => {
      // Complexity aside: three default pages of 20 nested would exceed it; that is not this test.
      expect(errorsOf(nestedQuery(10), undefined, { ...limits, maxComplexity: 1e9 })).toEqual([]);
    });

    it('rejects a query one level deeper, saying how deep it is', () => {
      expect(errorsOf(nestedQuery(11), undefined, { ...limits, maxComplexity: 1e9 })).toEqual([
        { message: 'Query depth 11 exceeds the limit of 10', code: 'GRAPHQL_VALIDATION_FAILED' },
      ]);
    });

    it('counts fields reached through fragments and inline fragments', () => {
      const query = `
        query { jobs { edges { node { ...J } } } }
        fragment J on Job { runs { edges { node { ... on Run { job { runs { edges { node { job { id } } } } } } } } } }`;
      expect(errorsOf(query)).toEqual([{ message: 'Query depth 12 exceeds the limit of 10', code: 'GRAPHQL_VALIDATION_FAILED' }]);
    });

    it("lets GraphiQL's full introspection query through even at a small depth limit", () => {
      expect(errorsOf(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true }), undefined, { ...limits, maxDepth: 3 })).toEqual(
        [],
      );
    });

    it('still refuses introspection that nests list fields to blow up the response (graphql-js own rule)', () => {
      const query = '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }';
      expect(errorsOf(query)).toEqual([{ message: 'Maximum introspection depth exceeded', code: 'GRAPHQL_VALIDATION_FAILED' }]);
    });
  });

  describe('complexity', () => {
    const wide = 'query($n: Int) { jobs(first: $n) { edges { node { runs(first: $n) { edges { node { id status } } } } } } }';

    it('multiplies a connection by its first argument, read from variables too', () => {
      const small = queryComplexity(schema, parse(wide), { n: 2 });
      const large = queryComplexity(schema, parse(wide), { n: 100 });
      expect(large).toBeGreaterThan(small * 100);
    });

    it('rejects an operation over the limit with its complexity in the message', () => {
      const errors = errorsOf(wide, { n: 100 });
      expect(errors).toHaveLength(1);
      expect(errors[0].code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(errors[0].message).toMatch(/^Query complexity \d+ exceeds the limit of 5000$/);
    });

    it('accepts the same operation with a small page', () => {
      expect(errorsOf(wide, { n: 5 })).toEqual([]);
    });

    it('uses the default page size of a connection when first is not given', () => {
      // jobs(first: 20) × runs(first: 20) × a few fields stays under 5000; × 100 fields of runs does not.
      expect(checkComplexity(schema, parse('{ jobs { edges { node { runs { edges { node { id } } } } } } }'), limits)).toBeNull();
      expect(
        checkComplexity(schema, parse('{ jobs { edges { node { runs { edges { node { id } } } } } } }'), { ...limits, maxComplexity: 100 }),
      ).not.toBeNull();
    });
  });

  describe('complexity, remembered per document', () => {
    const wide = 'query($n: Int) { jobs(first: $n) { edges { node { runs(first: $n) { edges { node { id status } } } } } } }';

    it('gives each page size its own verdict from the same document', () => {
      const check = makeComplexityCheck(schema, limits);
      const doc = parse(wide);
      expect(check(doc, { n: 100 })?.message).toMatch(/^Query complexity \d+ exceeds the limit of 5000$/);
      expect(check(doc, { n: 5 })).toBeNull();
      expect(check(doc, { n: 100 })?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    });

    it('tells a variable left to its default from one given as null', () => {
      const check = makeComplexityCheck(schema, limits);
      const doc = parse('query($n: Int = 500) { jobs(first: $n) { edges { node { runs(first: $n) { edges { node { id } } } } } } }');
      expect(check(doc, {})).not.toBeNull(); // 500 × 500
      expect(check(doc, { n: null })).toBeNull(); // the services' default page
      expect(check(doc, {})).not.toBeNull();
    });

    it('follows @include and @skip driven by variables', () => {
      const check = makeComplexityCheck(schema, limits);
      const doc = parse(
        'query($all: Boolean!) { jobs(first: 100) { totalCount edges @include(if: $all) { node { runs(first: 100) { totalCount } } } } }',
      );
      expect(check(doc, { all: true })).not.toBeNull();
      expect(check(doc, { all: false })).toBeNull();
    });

    it('counts only the variables a complexity can depend on', () => {
      const doc = parse(
        'query($id: ID!, $n: Int, $lvl: LogLevel, $x: Boolean!) { run(id: $id) { logs(first: $n, minLevel: $lvl) { totalCount } stages @skip(if: $x) { name } } }',
      );
      expect(complexityVariables(doc)).toEqual(['n', 'x']);
    });

    it('leaves variables that do not coerce to execution, as the uncached check does', () => {
      const check = makeComplexityCheck(schema, limits);
      expect(check(parse(wide), { n: 'many' })).toBeNull();
    });
  });

  describe('document cache (WebSocket)', () => {
    it('hands out one document per query text', () => {
      const cache = new DocumentCache(schema, limits);
      const a = cache.get('{ jobs { totalCount } }');
      expect(a.document).toBeDefined();
      expect(cache.get('{ jobs { totalCount } }').document).toBe(a.document);
    });

    it('remembers validation errors, depth included, and reports syntax errors with their code', () => {
      const cache = new DocumentCache(schema, { ...limits, maxDepth: 2 });
      expect(cache.get('{ jobs { edges { cursor } } }').errors?.map((e) => e.extensions.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(cache.get('{ jobs { nope } }').errors?.map((e) => e.message)).toEqual(['Cannot query field "nope" on type "JobConnection".']);
      expect(cache.get('{ jobs {').errors?.map((e) => e.extensions.code)).toEqual(['GRAPHQL_PARSE_FAILED']);
    });

    it('forgets the least recently used texts beyond its bound', () => {
      const cache = new DocumentCache(schema, limits, { maxEntries: 2 });
      const first = cache.get('{ jobs { totalCount } }').document;
      const second = cache.get('{ runs { totalCount } }').document;
      cache.get('{ jobs { totalCount } }'); // used again: now the most recent
      cache.get('{ computePresets { name } }');
      expect(cache.size).toBe(2);
      expect(cache.get('{ jobs { totalCount } }').document).toBe(first);
      expect(cache.get('{ runs { totalCount } }').document).not.toBe(second); // parsed anew
    });
  });

  describe('size', () => {
    it('refuses a query text over the byte limit before parsing it', () => {
      const error = checkQuerySize(`{ ${'a'.repeat(20_000)} }`, 20_000);
      expect(error?.message).toBe('Query is 20004 bytes; the limit is 20000');
      expect(error?.extensions.code).toBe('BAD_REQUEST');
    });

    it('counts bytes, not characters', () => {
      expect(checkQuerySize('é'.repeat(60), 100)).not.toBeNull(); // 120 bytes, 60 characters
      expect(checkQuerySize('e'.repeat(60), 100)).toBeNull();
    });
  });

  it("reports GraphQL's own validation errors with Apollo's code", () => {
    expect(errorsOf('{ jobs { nope } }')).toEqual([
      { message: 'Cannot query field "nope" on type "JobConnection".', code: 'GRAPHQL_VALIDATION_FAILED' },
    ]);
  });
});

describe('WebSocket origins', () => {
  it('allows no Origin, the same host, listed origins and *; refuses others and garbage', () => {
    expect(originAllowed(undefined, 'gw:4000', [])).toBe(true);
    expect(originAllowed('http://gw:4000', 'gw:4000', [])).toBe(true);
    expect(originAllowed('https://evil.example', 'gw:4000', [])).toBe(false);
    expect(originAllowed('https://dash.example.com', 'gw:4000', ['https://dash.example.com'])).toBe(true);
    expect(originAllowed('https://dash.example.com.evil', 'gw:4000', ['https://dash.example.com'])).toBe(false);
    expect(originAllowed('https://anything', 'gw:4000', ['*'])).toBe(true);
    expect(originAllowed('null', 'gw:4000', [])).toBe(false);
  });
});
