import type { BackendRegistry } from '../backends/backend';
import { ErrorKind, RunStatus, type RunView } from '../domain';
import { coerceError, withContext } from '../errors';
import type { Logger } from '../logger';
import type { RunEventsService } from './run-events.service';

/**
 * Hands a new or retried run to its backend. When the backend refuses (or is not part of this
 * gateway), the attempt fails TRANSIENT, naming the backend, so the retry policy takes over.
 * Returns that failed run, or null when the backend accepted it.
 */
export async function submitRun(
  deps: { backends: BackendRegistry; runEvents: RunEventsService; logger: Logger },
  run: RunView,
  producer?: string,
): Promise<RunView | null> {
  try {
    const backend = deps.backends.get(run.backend);
    if (!backend) throw new Error(`no ${run.backend} backend in this gateway`);
    await backend.submit(run);
    return null;
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
