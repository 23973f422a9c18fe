/** Start, stop, retry and delete, as one hook the jobs list, the job page and the run page share. */
import { useState } from 'react';
import {
  DeleteJobDocument,
  RetryRunDocument,
  StartJobDocument,
  StopRunDocument,
  type JobStatus,
  type RunStatus,
} from '../../../client/generated/graphql';
import type { JobwireError } from '../../../client/jobwire-client';
import { useSession } from './session';

/** The job status a run gives its job (Job.status is derived from the latest run). */
export function jobStatusOf(run: RunStatus): JobStatus {
  switch (run) {
    case 'SUCCEEDED':
      return 'COMPLETED';
    case 'FAILED':
      return 'FAILED';
    case 'CANCELLED':
      return 'CANCELLED';
    default:
      return 'RUNNING';
  }
}

/** Mutations that act on runs and jobs; `busy` names the one in flight, `error` the last failure. */
export function useRunActions() {
  const { client } = useSession();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<JobwireError | null>(null);
  const act = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(name);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e as JobwireError);
      return undefined;
    } finally {
      setBusy(null);
    }
  };
  return {
    busy,
    error,
    clearError: () => setError(null),
    start: (jobId: string) => act(`start:${jobId}`, async () => (await client.request(StartJobDocument, { id: jobId })).startJob),
    stop: (runId: string) => act(`stop:${runId}`, async () => (await client.request(StopRunDocument, { id: runId })).stopRun),
    retry: (runId: string) => act(`retry:${runId}`, async () => (await client.request(RetryRunDocument, { id: runId })).retryRun),
    remove: (jobId: string) => act(`delete:${jobId}`, async () => (await client.request(DeleteJobDocument, { id: jobId })).deleteJob),
  };
}
