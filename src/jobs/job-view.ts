import type { JobEntity } from '../db/entities/job.entity';
import { iso } from '../runs/run-view';
import type { JobView } from '../domain';
import type { JobDraft } from './job-validation';
import { maskParams } from './secrets';

/**
 * The client-facing shape of a job: plain data, detached from the entity, with every secret in
 * `source.params` (and secret-looking Spark properties) replaced by `"***"`. Every JobView that
 * leaves the core is made here.
 */
export function toJobView(job: JobEntity): JobView {
  return {
    id: job.id,
    name: job.name,
    description: job.description,
    tags: [...job.tags],
    backend: job.backend,
    source: { ...job.source, params: maskParams(job.source.params) },
    destination: { ...job.destination },
    processing: { ...job.processing },
    compute: { ...job.compute, sparkConf: maskParams(job.compute.sparkConf) },
    schedule: job.schedule ? { ...job.schedule, nextRunAt: iso(job.nextRunAt) } : null,
    maxAttempts: job.maxAttempts,
    status: job.status,
    latestRunId: job.latestRunId,
    createdAt: iso(job.createdAt)!,
    updatedAt: iso(job.updatedAt)!,
  };
}

/** The stored definition of a job (secrets included), as the validation works on it. */
export function toJobDraft(job: JobEntity): JobDraft {
  return structuredClone({
    name: job.name,
    description: job.description,
    tags: job.tags,
    backend: job.backend,
    source: job.source,
    destination: job.destination,
    processing: job.processing,
    compute: job.compute,
    schedule: job.schedule,
    maxAttempts: job.maxAttempts,
  });
}
