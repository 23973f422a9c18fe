/**
 * A live list of runs: the runs query's first page, kept current by `runsChanged`. Runs the
 * filter no longer matches leave the list, new ones enter it at the top.
 */
import { useMemo } from 'react';
import {
  DashboardRunsChangedDocument,
  DashboardRunsDocument,
  type DashboardRunRowFragment,
  type ExecutionBackend,
  type RunStatus,
} from '../../../client/generated/graphql';
import { useQuery, useSubscription } from './hooks';

export type RunRow = DashboardRunRowFragment;

export interface RunsFilter {
  status?: RunStatus | null;
  jobId?: string | null;
  backend?: ExecutionBackend | null;
  /** Runs of the jobs carrying this tag. */
  tag?: string | null;
}

const matches = (run: RunRow, f: RunsFilter) =>
  (!f.status || run.status === f.status) &&
  (!f.jobId || run.job.id === f.jobId) &&
  (!f.backend || run.backend === f.backend) &&
  (!f.tag || run.job.tags.includes(f.tag));

/** Newer first: a run seen again replaces its row unless what it carries is older. */
function upsert(rows: RunRow[], run: RunRow, filter: RunsFilter): RunRow[] {
  const i = rows.findIndex((r) => r.id === run.id);
  if (i >= 0 && Date.parse(rows[i].updatedAt) > Date.parse(run.updatedAt)) return rows;
  if (!matches(run, filter)) return i >= 0 ? rows.filter((r) => r.id !== run.id) : rows;
  if (i >= 0) return rows.map((r, j) => (j === i ? run : r));
  return [run, ...rows];
}

/** The runs matching `filter` (the first `first`), live. */
export function useLiveRuns(filter: RunsFilter, first = 50) {
  const apiFilter = useMemo(
    () => ({ status: filter.status ?? null, jobId: filter.jobId ?? null, backend: filter.backend ?? null, tag: filter.tag ?? null }),
    [filter.status, filter.jobId, filter.backend, filter.tag],
  );
  const query = useQuery(DashboardRunsDocument, { filter: apiFilter, first });
  // Every status change of the runs matching the job, backend and tag filters (the gateway filters
  // them); the status is checked here, so a run that leaves the filtered status leaves the list too.
  const subError = useSubscription(
    DashboardRunsChangedDocument,
    { filter: { jobId: apiFilter.jobId, backend: apiFilter.backend, tag: apiFilter.tag } },
    ({ runsChanged }) =>
      query.setData((prev) => {
        if (!prev) return prev;
        const rows = upsert(
          prev.runs.edges.map((e) => e.node),
          runsChanged,
          filter,
        );
        const added = rows.length - prev.runs.edges.length;
        return { runs: { ...prev.runs, totalCount: prev.runs.totalCount + added, edges: rows.map((node) => ({ node })) } };
      }),
  );
  const rows = useMemo(() => (query.data?.runs.edges ?? []).map((e) => e.node).filter((r) => matches(r, filter)), [query.data, filter]);
  return { rows, totalCount: query.data?.runs.totalCount, loading: query.loading, error: query.error ?? subError, reload: query.reload };
}
