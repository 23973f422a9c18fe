/**
 * What a first-time visitor sees in the operation editor (GraphiQL only uses it when no tabs
 * are persisted in localStorage). Exactly one operation is live so "Run" works as-is; the
 * others are commented out and can be uncommented one at a time.
 */
export const DEFAULT_QUERY = `# Welcome to jobwire.
#
# Queries and mutations are sent as HTTP POST to /graphql; subscriptions stream
# over a WebSocket on the same host and path (graphql-ws protocol).
#
# Try it:
#   1. Run the Jobs query below (Ctrl/Cmd-Enter or the ▶ button).
#   2. Copy a job id into the Variables pane as {"id": "..."}, comment out
#      Jobs, uncomment Start and run it.
#   3. Put the run id (latestRun.id) in Variables as {"runId": "..."},
#      uncomment Watch and run it: updates appear live until the run ends.
#
# Ctrl-Space autocompletes, the Docs button on the left shows the schema.

query Jobs {
  jobs(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        status
        backend
        latestRun {
          id
          status
          progress
        }
      }
    }
  }
}

# mutation Start($id: ID!) {
#   startJob(id: $id) {
#     id
#     status
#   }
# }

# subscription Watch($runId: ID!) {
#   runUpdated(runId: $runId) {
#     id
#     status
#     progress
#     stages {
#       name
#       completedItems
#       totalItems
#     }
#   }
# }
`;

