import { ConfigError, loadConfig } from '../../src/config';

describe('configuration', () => {
  it('defaults to the embedded database, the in-process bus and the documented values', () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.port).toBe(4000);
    expect(c.localConcurrency).toBe(2);
    expect(c.retryMaxAttempts).toBe(3);
    expect(c.stuckCheckIntervalMs).toBe(60_000);
    expect(c.stuckThresholdMs).toBe(300_000);
    expect(c.seedDemo).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names the bad variable and what it expects', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT="eighty"; expected an integer/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL.*postgres/);
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ LOCAL_CONCURRENCY: '0' })).toThrow(/LOCAL_CONCURRENCY.*>= 1/);
    expect(() => loadConfig({ KAFKA_BROKERS: 'localhost' })).toThrow(/KAFKA_BROKERS.*host:port/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ MAX_FAILED_ROW_RATIO: '2' })).toThrow(/MAX_FAILED_ROW_RATIO.*between 0 and 1/);
    expect(() => loadConfig({ LOCAL_SOURCE_ROOTS: '/data/in, relative/dir' })).toThrow(/LOCAL_SOURCE_ROOTS.*absolute/);
    expect(loadConfig({ LOCAL_SOURCE_ROOTS: '/data/in, /srv/drop' }).localSourceRoots).toEqual(['/data/in', '/srv/drop']);
  });

  it('uses PostgreSQL and Redis when their URLs are set, without the demo job', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u@h:5432/d', REDIS_URL: 'redis://127.0.0.1:6379', KAFKA_BROKERS: 'a:9092, b:9093' });
    expect(c.databaseUrl).toBe('postgres://u@h:5432/d');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.kafkaBrokers).toEqual(['a:9092', 'b:9093']);
    expect(c.seedDemo).toBe(false);
  });

  it('limits requests and sockets by default; introspection only in the embedded default', () => {
    const embedded = loadConfig({});
    expect(embedded.limits).toEqual({
      maxDepth: 10,
      maxComplexity: 20_000,
      maxQueryBytes: 20_000,
      maxPageSize: 1000,
      maxAliases: 15,
      maxRootMutations: 5,
      introspection: true,
    });
    expect([embedded.wsConnectionInitTimeoutMs, embedded.httpBacklog]).toEqual([3000, 4096]);
    const postgres = { DATABASE_URL: 'postgres://u@h:5432/d' };
    expect(loadConfig(postgres).limits.introspection).toBe(false);
    expect(loadConfig({ ...postgres, GRAPHQL_INTROSPECTION: 'true' }).limits.introspection).toBe(true);
    expect(loadConfig({ GRAPHQL_INTROSPECTION: 'false' }).limits.introspection).toBe(false);
    const set = loadConfig({
      GRAPHQL_MAX_ALIASES: '0',
      GRAPHQL_MAX_ROOT_MUTATIONS: '1',
      WS_CONNECTION_INIT_TIMEOUT_MS: '10000',
      HTTP_BACKLOG: '65535',
    });
    expect([set.limits.maxAliases, set.limits.maxRootMutations, set.wsConnectionInitTimeoutMs, set.httpBacklog]).toEqual([
      0, 1, 10_000, 65_535,
    ]);
    expect(() => loadConfig({ GRAPHQL_MAX_ROOT_MUTATIONS: '0' })).toThrow(/GRAPHQL_MAX_ROOT_MUTATIONS.*>= 1/);
    expect(() => loadConfig({ GRAPHQL_INTROSPECTION: 'sometimes' })).toThrow(/GRAPHQL_INTROSPECTION.*true or false/);
  });
});
