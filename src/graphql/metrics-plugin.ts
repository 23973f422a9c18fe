import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin } from '@apollo/server';
import { secondsSince, type GraphQLMetrics } from '../metrics/metrics';

/**
 * Apollo plugin: times every GraphQL request over HTTP, from its start to its response, by
 * operation type (`query`, `mutation`; `unknown` when it was refused before an operation was
 * resolved: it did not parse or validate, or named no operation), into
 * `jobwire_graphql_request_duration_seconds`.
 */
export function metricsPlugin(metrics: GraphQLMetrics): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = performance.now();
      let type = 'unknown';
      return {
        async didResolveOperation({ operation }) {
          type = operation?.operation ?? 'unknown';
        },
        async willSendResponse() {
          metrics.request('http', type, secondsSince(started));
        },
      };
    },
  };
}
