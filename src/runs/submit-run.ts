import type { BackendRegistry } from '../backends/backend';
import { ErrorKind, RunStatus, type RunView } from '../domain';
import { coerceError, withContext } from '../errors';
import type { Logger } from '../logger';
import type { RunEventsService } from './run-events.service';

/**
 * Hands a new or retried attempt to its backend and applies what the engine handed back (its id
 * for the run, its state) as an event. When the backend refuses (or is not part of this gateway)
 * the attempt fails TRANSIENT, naming the backend, so the retry policy takes over. Returns the run
 * as it stands afterwards.
 */
export async function submitRun(
  deps: { backends: BackendRegistry; runEvents: RunEventsService; logger: Logger },
  run: RunView,
  producer?: string,
): Promise<RunView> {
  try {
    const backend = deps.backends.get(run.backend);
    if (!backend) throw new Error(`no ${run.backend} backend in this gateway`);
    const submission = await backend.submit(run);
    if (submission.externalId === undefined && submission.engineState === undefined && submission.status === undefined) return run;
    const result = await deps.runEvents.apply({
      type: 'run.status',
      runId: run.id,
      attempt: run.attempt,
      producer,
      payload: { status: submission.status ?? run.status, externalId: submission.externalId, engineState: submission.engineState },
    });
    return result.run;
  } catch (err) {
    const e = withContext(err, `submit of run ${run.id} (attempt ${run.attempt}) to the ${run.backend} backend`);
    deps.logger.error({ err: e, runId: run.id, jobId: run.jobId, backend: run.backend }, 'backend refused the run');
    const result = await deps.runEvents.apply({
      type: 'run.status',
      runId: run.id,
      attempt: run.attempt,
      producer,
      payload: {
        status: RunStatus.FAILED,
        error: {
          message: `The ${run.backend} backend did not accept the run: ${coerceError(err).message}`,
          kind: ErrorKind.TRANSIENT,
          details: null,
        },
      },
    });
    return result.run;
  }
}
