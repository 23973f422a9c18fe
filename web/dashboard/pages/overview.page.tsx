/**
 * The overview: live counts (jobStatsUpdated: its first message is the current state) and the
 * live runs table with the runs query's filters.
 */
import { useMemo, useState } from 'react';
import {
  DashboardJobsDocument,
  JobStatsUpdatedDocument,
  type ExecutionBackend,
  type JobStatsUpdatedSubscription,
  type RunStatus,
} from '../../../client/generated/graphql';
import { ErrorNotice, PageHeader } from '../components/notice';
import { RunsTable } from '../components/runs-table';
import { formatInt, formatPercent } from '../lib/format';
import { useQuery, useSubscription } from '../lib/hooks';
import { useLiveRuns, type RunsFilter } from '../lib/runs-list';

const RUN_STATUSES: RunStatus[] = ['PENDING', 'QUEUED', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const BACKENDS: ExecutionBackend[] = ['LOCAL', 'SPARK', 'KAFKA'];

export function OverviewPage() {
  const [stats, setStats] = useState<JobStatsUpdatedSubscription['jobStatsUpdated'] | null>(null);
  const statsError = useSubscription(JobStatsUpdatedDocument, {}, (d) => setStats(d.jobStatsUpdated));
  const [filter, setFilter] = useState<RunsFilter>({});
  const runs = useLiveRuns(filter);
  const jobs = useQuery(DashboardJobsDocument, { first: 100 });
  const jobList = jobs.data?.jobs.edges.map((e) => e.node) ?? [];
  const tags = useMemo(() => [...new Set(jobList.flatMap((j) => j.tags))].sort(), [jobList]);

  const count = (s: RunStatus) => stats?.runsByStatus.find((c) => c.status === s)?.count ?? 0;
  const cards: { label: string; value: string; tone?: string }[] = stats
    ? [
        { label: 'Running', value: formatInt(stats.running), tone: 'info' },
        { label: 'Queued', value: formatInt(count('PENDING') + count('QUEUED')) },
        { label: 'Succeeded', value: formatInt(count('SUCCEEDED')), tone: 'ok' },
        { label: 'Failed', value: formatInt(count('FAILED')), tone: count('FAILED') ? 'bad' : undefined },
        { label: 'Cancelled', value: formatInt(count('CANCELLED') + count('CANCELLING')) },
        { label: 'Stuck', value: formatInt(stats.stuckRuns.length), tone: stats.stuckRuns.length ? 'warn' : undefined },
        { label: 'Stalled', value: formatInt(stats.stalled), tone: stats.stalled ? 'warn' : undefined },
        { label: 'Dead-lettered', value: formatInt(stats.deadLettered), tone: stats.deadLettered ? 'bad' : undefined },
        { label: 'Success rate', value: formatPercent(stats.successRate) },
      ]
    : [];
  const set = (patch: RunsFilter) => setFilter((f) => ({ ...f, ...patch }));

  return (
    <>
      <PageHeader title="Overview" subtitle="Every count and row here is live: it moves as the runs do." />
      <ErrorNotice error={statsError} prefix="Live counts" />
      <section className="stats" aria-label="Run counts">
        {stats
          ? cards.map((c) => (
              <div key={c.label} className={`stat${c.tone ? ` stat-${c.tone}` : ''}`} role="group" aria-label={c.label}>
                <div className="stat-label">{c.label}</div>
                <div className="stat-value">{c.value}</div>
              </div>
            ))
          : RUN_STATUSES.slice(0, 6).map((s) => <div key={s} className="stat stat-loading" aria-hidden="true" />)}
      </section>
      <section className="panel" aria-labelledby="runs-title">
        <div className="panel-header">
          <h2 id="runs-title">
            Runs <span className="muted">{runs.totalCount != null ? `${formatInt(runs.totalCount)} in all` : ''}</span>
          </h2>
          <div className="filters" role="search" aria-label="Filter runs">
            <Select label="Status" value={filter.status ?? ''} onChange={(v) => set({ status: (v || null) as RunStatus | null })}>
              {RUN_STATUSES}
            </Select>
            <label className="filter">
              <span>Job</span>
              <select value={filter.jobId ?? ''} onChange={(e) => set({ jobId: e.target.value || null })}>
                <option value="">All</option>
                {jobList.map((j) => (
                  <option key={j.id} value={j.id}>
                    {j.name}
                  </option>
                ))}
              </select>
            </label>
            <Select label="Backend" value={filter.backend ?? ''} onChange={(v) => set({ backend: (v || null) as ExecutionBackend | null })}>
              {BACKENDS}
            </Select>
            <Select label="Tag" value={filter.tag ?? ''} onChange={(v) => set({ tag: v || null })}>
              {tags}
            </Select>
          </div>
        </div>
        <ErrorNotice error={runs.error} />
        {runs.loading && !runs.rows.length ? <div className="empty">Loading…</div> : <RunsTable rows={runs.rows} />}
      </section>
    </>
  );
}

/** A labelled filter select with an "All" option. */
export function Select({
  label,
  value,
  onChange,
  children,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  children: string[];
}) {
  return (
    <label className="filter">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">All</option>
        {children.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}
