import path from 'node:path';
import type { JobsApi } from './api';
import type { Logger } from './logger';
import { DataFormat, ExecutionBackend, SourceType } from './domain';
import { packageRoot } from './paths';

export const DEMO_JOB_NAME = 'demo: orders.csv → demo.orders';

/** The sample CSV shipped with the project (5,000 orders). */
export function sampleCsvPath(): string {
  return path.join(packageRoot(), 'samples', 'orders.csv');
}

/**
 * Creates the demo job on an empty database, so a newcomer has something to start in GraphiQL.
 * Does nothing when any job exists.
 */
export async function seedDemo({ jobs, logger }: { jobs: JobsApi; logger: Logger }): Promise<void> {
  const existing = await jobs.list(null, { first: 1 });
  if (existing.totalCount > 0) return;
  const job = await jobs.create({
    name: DEMO_JOB_NAME,
    description: 'Loads the sample orders CSV into the table demo.orders. Start it and watch it on the dashboard (/) or in GraphiQL.',
    tags: ['demo'],
    backend: ExecutionBackend.LOCAL,
    source: { type: SourceType.LOCAL, params: { path: sampleCsvPath() } },
    destination: { schema: 'demo', table: 'orders' },
    // Paced (about 12 s for 5,000 rows) so a newcomer can watch the stages move.
    processing: { format: DataFormat.CSV, batchSize: 100, maxRowsPerSecond: 400 },
  });
  logger.info({ jobId: job.id }, 'demo job created: startJob(id) in GraphiQL to see it run');
}
