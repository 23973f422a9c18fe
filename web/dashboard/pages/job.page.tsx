/**
 * One job: its definition, its compute (editable, except while a run is active: the API refuses
 * with CONFLICT then), its runs kept live by runsChanged, and start / stop / retry / delete.
 */
import { useEffect, useState } from 'react';
import { DashboardJobDocument, DashboardJobRunsDocument, UpdateComputeDocument } from '../../../client/generated/graphql';
import { COMPUTE_PATHS, ComputeFields, type ComputeValues } from '../components/compute-fields';
import { ErrorNotice, PageHeader } from '../components/notice';
import { RunsTable } from '../components/runs-table';
import { isActive, StatusBadge } from '../components/status-badge';
import { formatTime } from '../lib/format';
import { useMutation, useQuery, useSubscription } from '../lib/hooks';
import { jobStatusOf, useRunActions } from '../lib/job-actions';
import { href, navigate } from '../lib/router';
import type { RunRow } from '../lib/runs-list';

const PATHS = COMPUTE_PATHS.map((p) => `input.${p}`);

export function JobPage({ id }: { id: string }) {
  const job = useQuery(DashboardJobDocument, { id });
  const actions = useRunActions();
  const [compute, setCompute] = useState<ComputeValues | null>(null);
  const [saved, setSaved] = useState(false);
  const update = useMutation(UpdateComputeDocument);

  const subError = useSubscription(DashboardJobRunsDocument, { jobId: id }, ({ runsChanged: run }) =>
    job.setData((prev) => {
      if (!prev?.job) return prev;
      const edges = prev.job.runs.edges.filter((e) => e.node.id !== run.id);
      const i = prev.job.runs.edges.findIndex((e) => e.node.id === run.id);
      const next = i >= 0 ? prev.job.runs.edges.map((e) => (e.node.id === run.id ? { node: run } : e)) : [{ node: run }, ...edges];
      const newest = !prev.job.latestRun || run.number >= prev.job.latestRun.number;
      return {
        job: {
          ...prev.job,
          status: newest ? jobStatusOf(run.status) : prev.job.status,
          latestRun: newest ? { id: run.id, number: run.number, status: run.status } : prev.job.latestRun,
          runs: { ...prev.job.runs, totalCount: prev.job.runs.totalCount + (i >= 0 ? 0 : 1), edges: next },
        },
      };
    }),
  );

  const j = job.data?.job;
  useEffect(() => {
    if (j && !compute) {
      const { clusterMode, instanceType, minWorkers, maxWorkers, autoscaling, photon } = j.compute;
      setCompute({ clusterMode, instanceType, minWorkers, maxWorkers, autoscaling, photon });
    }
  }, [j, compute]);

  if (job.error) return <ErrorNotice error={job.error} />;
  if (!job.data) return <div className="empty">Loading…</div>;
  if (!j)
    return (
      <div className="notice">
        No job has the id {id}. <a href={href.jobs()}>Back to the jobs</a>
      </div>
    );

  const runs: RunRow[] = j.runs.edges.map((e) => e.node);
  const active = runs.find((r) => isActive(r.status)) ?? null;
  const latest = runs[0] ?? null;
  const save = async () => {
    if (!compute) return;
    setSaved(false);
    if (await update.run({ jobId: id, input: compute })) setSaved(true);
  };
  const start = async () => {
    const run = await actions.start(id);
    if (run) navigate(href.run(run.id));
  };
  const remove = async () => {
    if (!window.confirm(`Delete the job "${j.name}" and its runs?`)) return;
    if (await actions.remove(id)) navigate(href.jobs());
  };

  return (
    <>
      <PageHeader
        title={
          <>
            {j.name} <StatusBadge status={j.status} label="Job status" />
          </>
        }
        subtitle={
          <>
            <a href={href.jobs()}>← Jobs</a>
            {j.description ? <span className="muted"> · {j.description}</span> : null}
          </>
        }
      >
        {active ? (
          <button className="btn" onClick={() => actions.stop(active.id)} disabled={actions.busy !== null}>
            Stop run #{active.number}
          </button>
        ) : (
          <button className="btn btn-primary" onClick={start} disabled={actions.busy !== null}>
            Start
          </button>
        )}
        {latest && latest.status === 'FAILED' ? (
          <button className="btn" onClick={() => actions.retry(latest.id)} disabled={actions.busy !== null}>
            Retry run #{latest.number}
          </button>
        ) : null}
        <button
          className="btn btn-ghost btn-danger"
          onClick={remove}
          disabled={actions.busy !== null || !!active}
          title={active ? 'A run is active: stop it first' : undefined}
        >
          Delete
        </button>
      </PageHeader>
      <ErrorNotice error={actions.error} />

      <div className="columns">
        <section className="card" aria-labelledby="definition-title">
          <h2 id="definition-title">Definition</h2>
          <dl className="props">
            <dt>Backend</dt>
            <dd className="mono">{j.backend}</dd>
            <dt>Source</dt>
            <dd className="mono">
              {j.source.type} {JSON.stringify(j.source.params)}
              {j.source.filePattern ? ` · ${j.source.filePattern}` : ''}
            </dd>
            <dt>Destination</dt>
            <dd className="mono">
              {j.destination.schema}.{j.destination.table}
            </dd>
            <dt>Processing</dt>
            <dd>
              {j.processing.mode} · {j.processing.format} · batches of {j.processing.batchSize}
              {j.processing.maxRowsPerSecond ? ` · at most ${j.processing.maxRowsPerSecond} rows/s` : ''}
            </dd>
            <dt>Schedule</dt>
            <dd>
              {j.schedule ? (
                <>
                  <code>{j.schedule.cron}</code> ({j.schedule.timezone}){' '}
                  {j.schedule.enabled ? `· next ${formatTime(j.schedule.nextRunAt)}` : '· paused'}
                </>
              ) : (
                'manual'
              )}
            </dd>
            <dt>Attempts</dt>
            <dd>
              up to {j.maxAttempts} per run · stall after {j.stallTimeoutSeconds}s ({j.onStall.toLowerCase()})
            </dd>
            <dt>Tags</dt>
            <dd>
              {j.tags.length ? (
                j.tags.map((t) => (
                  <span key={t} className="tag">
                    {t}
                  </span>
                ))
              ) : (
                <span className="muted">none</span>
              )}
            </dd>
          </dl>
        </section>

        <section className="card" aria-labelledby="compute-title">
          <h2 id="compute-title">Compute</h2>
          {active ? (
            <div className="notice notice-warn" role="status">
              Run #{active.number} is active: compute can change once it ends.
            </div>
          ) : null}
          {compute ? (
            <ComputeFields
              value={compute}
              onChange={(v) => {
                setCompute(v);
                setSaved(false);
              }}
              prefix="input"
              error={update.error ? { field: update.error.field, message: update.error.message } : null}
              paths={PATHS}
              disabled={!!active}
            />
          ) : null}
          {update.error && !update.error.field ? <ErrorNotice error={update.error} /> : null}
          <div className="form-row">
            <button className="btn btn-primary" onClick={save} disabled={!!active || update.pending}>
              {update.pending ? 'Saving…' : 'Save compute'}
            </button>
            {saved ? (
              <span className="test-result ok" role="status">
                Saved
              </span>
            ) : null}
          </div>
        </section>
      </div>

      <section className="panel" aria-labelledby="job-runs-title">
        <div className="panel-header">
          <h2 id="job-runs-title">
            Runs <span className="muted">{j.runs.totalCount} in all</span>
          </h2>
        </div>
        <ErrorNotice error={subError} />
        <RunsTable rows={runs} label={`Runs of ${j.name}`} showJob={false} />
      </section>
    </>
  );
}
