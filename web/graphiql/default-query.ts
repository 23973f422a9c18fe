/**
 * What a first-time visitor sees in the operation editor (GraphiQL only uses it when no tabs
 * are persisted in localStorage). Exactly one operation is live so "Run" works as-is; the
 * others are commented out (once uncommented, GraphiQL runs the one under the cursor).
 */
export const DEFAULT_QUERY = `# Welcome to jobwire!
#
# Queries and mutations go over HTTP POST /graphql;
# subscriptions over a WebSocket (graphql-ws) on the
# same host and path.
#
# 1. Run Jobs below: Ctrl/Cmd-Enter or the ▶ button.
# 2. Uncomment Start, set Variables (bottom pane) to
#    {"id": "<a job id>"} and run it with the cursor
#    inside it.
# 3. Uncomment Watch, set Variables to
#    {"runId": "<latestRun.id>"} and run it: updates
#    stream in until the run finishes.
#
# Ctrl-Space autocompletes; the book icon on the left
# opens the schema docs.

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
