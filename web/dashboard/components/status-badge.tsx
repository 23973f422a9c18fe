import type { JobStatus, RunStatus } from '../../../client/generated/graphql';

const TONE: Record<string, string> = {
  RUNNING: 'info',
  PENDING: 'muted',
  QUEUED: 'muted',
  CREATED: 'muted',
  CANCELLING: 'warn',
  SUCCEEDED: 'ok',
  COMPLETED: 'ok',
  FAILED: 'bad',
  CANCELLED: 'muted',
};

/** A run's or a job's status as a coloured badge (its text is the status word, for screen readers and tests). */
export function StatusBadge({ status, label }: { status: RunStatus | JobStatus; label?: string }) {
  const active = status === 'RUNNING' || status === 'CANCELLING';
  return (
    <span
      className={`badge badge-${TONE[status] ?? 'muted'}${active ? ' badge-live' : ''}`}
      aria-label={label ? `${label}: ${status}` : undefined}
    >
      {status}
    </span>
  );
}

/** Whether a run is still going (its job's compute cannot change, it can be stopped). */
export const isActive = (status: RunStatus) => ['PENDING', 'QUEUED', 'RUNNING', 'CANCELLING'].includes(status);
