/**
 * What fields cost in the complexity model (src/graphql/limits.ts), beyond its one point per field
 * and a connection's subtree counted once per item of its `first`. Each costly field carries its
 * number as type-graphql's `complexity` option (`@Query(() => JobStats, { complexity: COST.stats })`),
 * and pays its selection on top. Every alias is a field of its own and pays again; the numbers are
 * constants, not functions of arguments, so a cached complexity stays valid whatever the variables
 * (src/graphql/complexity-cache.ts).
 *
 * The scale: a page of 20 jobs with a few fields is about 100 points; `GRAPHQL_MAX_COMPLEXITY`
 * (20000) is the budget of one operation.
 */
export const COST = {
  /**
   * Every root mutation field without a cost of its own: a transaction, an event published, and
   * maybe a call to a backend. Applied by the limits' estimator to every field of `Mutation`.
   */
  mutation: 50,
  /** `jobStats`: four aggregate statements over every run (counts by status, dead letters, stalls, stuck runs). */
  stats: 100,
  /** `ingestStatus`: the consumer group's lag, asked of the Kafka brokers. */
  ingestStatus: 50,
  /** `testSourceConnection`: opens a file or a network connection (HTTP, PostgreSQL, Kafka …) and waits for it. */
  connectionTest: 500,
  /** `preflightJob`: a connection test of the job's source, then the backend's own checks (the Spark cluster's capacity). */
  preflight: 600,
} as const;
