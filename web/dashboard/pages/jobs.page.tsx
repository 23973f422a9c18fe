/**
 * Jobs: the filterable list (the jobs query's filters) with status badges kept live by
 * runsChanged (a job's status follows its latest run), and start / stop / delete per row.
 */
import { useMemo, useState } from 'react';
import {
  DashboardJobsDocument,
  DashboardRunsChangedDocument,
  type DashboardJobRowFragment,
  type ExecutionBackend,
  type JobStatus,
} from '../../../client/generated/graphql';
import { ErrorNotice, PageHeader } from '../components/notice';
import { isActive, StatusBadge } from '../components/status-badge';
import { formatTime } from '../lib/format';
import { useQuery, useSubscription } from '../lib/hooks';
import { jobStatusOf, useRunActions } from '../lib/job-actions';
import { href, navigate } from '../lib/router';
import { Select } from './overview.page';

const JOB_STATUSES: JobStatus[] = ['CREATED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

export function JobsPage() {
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('');
  const [backend, setBackend] = useState('');
  const [tag, setTag] = useState('');
  const filter = useMemo(
    () => ({
      search: search.trim() || null,
      status: (status || null) as JobStatus | null,
      backend: (backend || null) as ExecutionBackend | null,
      tag: tag || null,
    }),
    [search, status, backend, tag],
  );
  const jobs = useQuery(DashboardJobsDocument, { filter, first: 100 });
  const all = useQuery(DashboardJobsDocument, { first: 100 }); // the tags to offer
  const tags = useMemo(() => [...new Set((all.data?.jobs.edges ?? []).flatMap((e) => e.node.tags))].sort(), [all.data]);
  const actions = useRunActions();

  const subError = useSubscription(DashboardRunsChangedDocument, { filter: null }, ({ runsChanged: run }) =>
    jobs.setData((prev) => {
      if (!prev) return prev;
      const edges = prev.jobs.edges.map((e) => {
        const latest = e.node.latestRun;
        if (e.node.id !== run.job.id || (latest && latest.number > run.number)) return e;
        const node: DashboardJobRowFragment = {
          ...e.node,
          status: jobStatusOf(run.status),
          latestRun: { id: run.id, number: run.number, status: run.status, progress: run.progress, updatedAt: run.updatedAt },
        };
        return { ...e, node };
      });
      return { jobs: { ...prev.jobs, edges } };
    }),
  );

  const rows = jobs.data?.jobs.edges.map((e) => e.node) ?? [];
  const start = async (id: string) => {
    const run = await actions.start(id);
    if (run) navigate(href.run(run.id));
  };
  const remove = async (job: DashboardJobRowFragment) => {
    if (!window.confirm(`Delete the job "${job.name}" and its runs?`)) return;
    if (await actions.remove(job.id)) {
      jobs.reload();
      all.reload();
    }
  };

  return (
    <>
      <PageHeader
        title="Jobs"
        subtitle={jobs.data ? `${jobs.data.jobs.totalCount} job${jobs.data.jobs.totalCount === 1 ? '' : 's'}` : null}
      >
        <a className="btn btn-primary" href={href.newJob()}>
          Create job
        </a>
      </PageHeader>
      <section className="panel">
        <div className="panel-header">
          <div className="filters" role="search" aria-label="Filter jobs">
            <label className="filter filter-search">
              <span>Search</span>
              <input type="search" placeholder="Name or description" value={search} onChange={(e) => setSearch(e.target.value)} />
            </label>
            <Select label="Status" value={status} onChange={setStatus}>
              {JOB_STATUSES}
            </Select>
            <Select label="Backend" value={backend} onChange={setBackend}>
              {['LOCAL', 'SPARK', 'KAFKA']}
            </Select>
            <Select label="Tag" value={tag} onChange={setTag}>
              {tags}
            </Select>
          </div>
        </div>
        <ErrorNotice error={jobs.error ?? subError} />
        <ErrorNotice error={actions.error} />
        {rows.length === 0 ? (
          <div className="empty">{jobs.loading ? 'Loading…' : 'No jobs match.'}</div>
        ) : (
          <table className="table" aria-label="Jobs">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Backend</th>
                <th scope="col">Source → destination</th>
                <th scope="col">Schedule</th>
                <th scope="col">Latest run</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((j) => {
                const running = !!j.latestRun && isActive(j.latestRun.status);
                return (
                  <tr key={j.id} data-job-id={j.id}>
                    <td>
                      <a href={href.job(j.id)} className="strong">
                        {j.name}
                      </a>
                      {j.tags.map((t) => (
                        <span key={t} className="tag">
                          {t}
                        </span>
                      ))}
                      {j.description ? <div className="muted ellipsis">{j.description}</div> : null}
                    </td>
                    <td>
                      <StatusBadge status={j.status} label={`Status of ${j.name}`} />
                    </td>
                    <td className="mono">{j.backend}</td>
                    <td className="mono small">
                      {j.source.type} → {j.destination.schema}.{j.destination.table}
                    </td>
                    <td className="small">
                      {j.schedule ? (
                        <>
                          <code>{j.schedule.cron}</code>
                          {j.schedule.enabled ? (
                            <div className="muted">next {formatTime(j.schedule.nextRunAt)}</div>
                          ) : (
                            <div className="muted">paused</div>
                          )}
                        </>
                      ) : (
                        <span className="muted">manual</span>
                      )}
                    </td>
                    <td>{j.latestRun ? <a href={href.run(j.latestRun.id)}>#{j.latestRun.number}</a> : <span className="muted">—</span>}</td>
                    <td className="row-actions">
                      {running ? (
                        <button
                          className="btn btn-small"
                          onClick={() => actions.stop(j.latestRun!.id)}
                          disabled={actions.busy !== null}
                          aria-label={`Stop ${j.name}`}
                        >
                          Stop
                        </button>
                      ) : (
                        <button
                          className="btn btn-small"
                          onClick={() => start(j.id)}
                          disabled={actions.busy !== null}
                          aria-label={`Start ${j.name}`}
                        >
                          Start
                        </button>
                      )}
                      <button
                        className="btn btn-small btn-ghost btn-danger"
                        onClick={() => remove(j)}
                        disabled={actions.busy !== null || running}
                        title={running ? 'A run is active: stop it first' : undefined}
                        aria-label={`Delete ${j.name}`}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
