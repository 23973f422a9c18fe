/**
 * One run: status with attempts and errors, a live progress bar per stage with the estimated
 * finish, charts of throughput, records, bytes, workers, CPU and memory over the run, and the
 * live log viewer. Its data come from lib/run-live.ts only.
 */
import { useMemo, useState } from 'react';
import type { LogLevel, MetricsFieldsFragment } from '../../../client/generated/graphql';
import { LogViewer } from '../components/log-viewer';
import { ErrorNotice, PageHeader } from '../components/notice';
import { ProgressBar } from '../components/progress-bar';
import { isActive, StatusBadge } from '../components/status-badge';
import { TimeSeriesChart } from '../components/time-series-chart';
import { formatBytes, formatCompact, formatDuration, formatInt, formatTime, runDuration } from '../lib/format';
import { useNow } from '../lib/hooks';
import { useRunActions } from '../lib/job-actions';
import { href, navigate } from '../lib/router';
import { useRunLive } from '../lib/run-live';

const STAGE_TONE: Record<string, string | undefined> = { COMPLETED: 'ok', FAILED: 'bad', SKIPPED: 'muted', PENDING: 'muted' };

export function RunPage({ id }: { id: string }) {
  const [minLevel, setMinLevel] = useState<LogLevel>('DEBUG');
  const live = useRunLive(id, minLevel);
  const actions = useRunActions();
  const now = useNow();
  const charts = useMemo(() => chartData(live.samples), [live.samples]);
  const run = live.run;

  if (live.missing)
    return (
      <div className="notice">
        No run has the id {id}. <a href={href.overview()}>Back to the overview</a>
      </div>
    );
  if (!run) return live.error ? <ErrorNotice error={live.error} /> : <div className="empty">Loading…</div>;

  const m = run.metrics;
  const retry = async () => {
    const r = await actions.retry(run.id);
    if (r && r.id !== run.id) navigate(href.run(r.id));
  };
  const eta = live.estimatedFinishAt;
  return (
    <>
      <PageHeader
        title={
          <>
            {run.job.name} <span className="muted">· run #{run.number}</span> <StatusBadge status={run.status} label="Run status" />
          </>
        }
        subtitle={
          <>
            <a href={href.job(run.job.id)}>← {run.job.name}</a>
            <span className="muted">
              {' '}
              · {run.backend} · {run.trigger.toLowerCase()}
              {run.externalId ? ` · ${run.externalId}` : ''}
            </span>
          </>
        }
      >
        {isActive(run.status) ? (
          <button className="btn" onClick={() => actions.stop(run.id)} disabled={actions.busy !== null || run.status === 'CANCELLING'}>
            {run.status === 'CANCELLING' ? 'Stopping…' : 'Stop run'}
          </button>
        ) : null}
        {run.status === 'FAILED' ? (
          <button className="btn" onClick={retry} disabled={actions.busy !== null}>
            Retry
          </button>
        ) : null}
      </PageHeader>
      <ErrorNotice error={actions.error} />
      <ErrorNotice error={live.error} prefix="Live updates" />

      <section className="stats" aria-label="Run summary">
        <Stat label="Attempt" value={String(run.attempt)} />
        <Stat label="Started" value={formatTime(run.startedAt ?? run.queuedAt)} />
        <Stat label="Duration" value={runDuration(run.startedAt, run.finishedAt, now)} />
        <Stat
          label={run.finishedAt ? 'Finished' : 'Estimated finish'}
          // The card is narrow: the time left fits, the clock time is its tooltip.
          value={run.finishedAt ? formatTime(run.finishedAt) : eta ? `in ${formatDuration(Date.parse(eta) - now)}` : '—'}
          title={eta && !run.finishedAt ? formatTime(eta) : undefined}
        />
        <Stat label="Records" value={formatInt(m?.recordsProcessed)} />
        <Stat label="Failed records" value={formatInt(m?.recordsFailed)} tone={m?.recordsFailed ? 'warn' : undefined} />
        <Stat label="Throughput" value={m ? `${formatCompact(m.throughputRps)} rows/s` : '—'} />
        <Stat label="Workers" value={formatInt(m?.activeWorkers)} />
      </section>

      {run.error ? (
        <div className="notice notice-bad" role="alert">
          <strong>{run.error.kind === 'TRANSIENT' ? 'Transient error' : 'Permanent error'}:</strong> {run.error.message}
          {run.deadLettered ? ' · attempts exhausted (dead-lettered)' : ''}
          {run.error.details ? <pre className="details">{run.error.details}</pre> : null}
        </div>
      ) : null}
      {run.stalledSince ? (
        <div className="notice notice-warn" role="status">
          Stalled since {formatTime(run.stalledSince)}: no counter has moved.
        </div>
      ) : null}

      <div className="columns">
        <section className="card" aria-labelledby="stages-title">
          <h2 id="stages-title">Progress</h2>
          <ProgressBar
            value={run.progress}
            label="Run progress"
            tone={run.status === 'FAILED' ? 'bad' : run.status === 'SUCCEEDED' ? 'ok' : undefined}
          />
          <table className="table stages" aria-label="Stages">
            <tbody>
              {live.stages.map((s) => (
                <tr key={s.name}>
                  <th scope="row">{s.name}</th>
                  <td className="stage-bar">
                    <ProgressBar value={s.progress} label={`Stage ${s.name}`} tone={STAGE_TONE[s.status]} compact />
                  </td>
                  <td className="num nowrap small">
                    {formatInt(s.completedItems)} / {s.totalIsEstimate ? '~' : ''}
                    {formatInt(s.totalItems)}
                    {s.failedItems ? <span className="bad"> · {formatInt(s.failedItems)} failed</span> : null}
                  </td>
                  <td className="small muted nowrap">{s.status.toLowerCase()}</td>
                  <td className="small muted ellipsis" title={s.message ?? undefined}>
                    {s.message}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {live.stages.length === 0 ? <div className="empty">No stages yet.</div> : null}
        </section>

        <section className="card" aria-labelledby="attempts-title">
          <h2 id="attempts-title">Attempts</h2>
          <table className="table" aria-label="Attempts">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {run.attempts.map((a) => (
                <tr key={a.attempt}>
                  <td>{a.attempt}</td>
                  <td>
                    <StatusBadge status={a.status} />
                  </td>
                  <td className="nowrap">{formatTime(a.startedAt)}</td>
                  <td className="nowrap num">{runDuration(a.startedAt, a.finishedAt, now)}</td>
                  <td className="error-cell" title={a.error?.message}>
                    {a.error ? `${a.error.kind.toLowerCase()}: ${a.error.message}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>

      <section className="charts" aria-label="Metrics">
        <TimeSeriesChart
          title="Throughput"
          times={charts.t}
          series={[{ label: 'rows/s', values: charts.rps, color: '#2563eb' }]}
          format={formatCompact}
        />
        <TimeSeriesChart
          title="Records"
          times={charts.t}
          series={[
            { label: 'processed', values: charts.records, color: '#059669' },
            { label: 'failed', values: charts.failed, color: '#dc2626' },
          ]}
          format={formatCompact}
        />
        <TimeSeriesChart
          title="Bytes"
          times={charts.t}
          series={[{ label: 'bytes', values: charts.bytes, color: '#7c3aed' }]}
          format={formatBytes}
        />
        <TimeSeriesChart
          title="Workers"
          times={charts.t}
          series={[{ label: 'workers', values: charts.workers, color: '#0891b2' }]}
          format={formatCompact}
        />
        <TimeSeriesChart
          title="CPU"
          times={charts.t}
          series={[{ label: 'cpu', values: charts.cpu, color: '#ea580c' }]}
          format={pct}
          yRange={[0, 100]}
        />
        <TimeSeriesChart
          title="Memory"
          times={charts.t}
          series={[{ label: 'memory', values: charts.memory, color: '#db2777' }]}
          format={pct}
          yRange={[0, 100]}
        />
      </section>

      <LogViewer lines={live.logs} droppedLines={live.droppedLines} minLevel={minLevel} onMinLevel={setMinLevel} />
    </>
  );
}

const pct = (v: number) => `${Math.round(v)} %`;

function Stat({ label, value, tone, title }: { label: string; value: string; tone?: string; title?: string }) {
  return (
    <div className={`stat stat-small${tone ? ` stat-${tone}` : ''}`} role="group" aria-label={label} title={title}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
    </div>
  );
}

/** Samples as uPlot columns (times in seconds; utilisation is already a percentage). */
function chartData(samples: MetricsFieldsFragment[]) {
  const col = (f: (m: MetricsFieldsFragment) => number | null) => samples.map(f);
  return {
    t: samples.map((m) => Date.parse(m.timestamp) / 1000),
    rps: col((m) => m.throughputRps),
    records: col((m) => m.recordsProcessed),
    failed: col((m) => m.recordsFailed),
    bytes: col((m) => m.bytesProcessed),
    workers: col((m) => m.activeWorkers),
    cpu: col((m) => m.cpuUtilization),
    memory: col((m) => m.memoryUtilization),
  };
}
