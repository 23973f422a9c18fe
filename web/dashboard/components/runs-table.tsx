import { useNow } from '../lib/hooks';
import { formatTime, runDuration } from '../lib/format';
import { href } from '../lib/router';
import type { RunRow } from '../lib/runs-list';
import { StatusBadge } from './status-badge';

/** Runs as a dense table: job, run number and attempt, status, backend, trigger, times. */
export function RunsTable({ rows, label = 'Runs', showJob = true }: { rows: RunRow[]; label?: string; showJob?: boolean }) {
  const now = useNow();
  if (rows.length === 0) return <div className="empty">No runs match.</div>;
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          {showJob ? <th scope="col">Job</th> : null}
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Backend</th>
          <th scope="col">Trigger</th>
          <th scope="col">Started</th>
          <th scope="col">Duration</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-run-id={r.id}>
            {showJob ? (
              <td>
                <a href={href.job(r.job.id)}>{r.job.name}</a>
                {r.job.tags.map((t) => (
                  <span key={t} className="tag">
                    {t}
                  </span>
                ))}
              </td>
            ) : null}
            <td>
              <a href={href.run(r.id)} aria-label={`Run ${r.number} of ${r.job.name}`}>
                #{r.number}
              </a>
              {r.attempt > 1 ? <span className="muted"> · attempt {r.attempt}</span> : null}
            </td>
            <td>
              <StatusBadge status={r.status} />
              {r.deadLettered ? <span className="badge badge-bad badge-outline">dead-lettered</span> : null}
              {r.stalledSince ? <span className="badge badge-warn badge-outline">stalled</span> : null}
            </td>
            <td className="mono">{r.backend}</td>
            <td className="muted">{r.trigger.toLowerCase()}</td>
            <td className="nowrap">{formatTime(r.startedAt ?? r.queuedAt)}</td>
            <td className="nowrap num">{runDuration(r.startedAt, r.finishedAt, now)}</td>
            <td className="error-cell" title={r.error?.message}>
              {r.error ? r.error.message : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
