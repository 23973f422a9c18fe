/** Finding a job by its id or its name, through the public API. */
import { CliJobDocument, CliJobsDocument, type JobwireClient } from '../client';
import { CliError, EXIT } from './exit-codes';
import { looksLikeId } from './values';

/**
 * The job `ref` names: by id when it looks like one, else the one job with exactly that name.
 * Throws NOT_FOUND when there is none, and AMBIGUOUS (exit code of a refused request) listing the
 * ids when several jobs share the name.
 */
export async function findJob(client: JobwireClient, ref: string): Promise<{ id: string; name: string }> {
  if (looksLikeId(ref)) {
    const { job } = await client.request(CliJobDocument, { id: ref });
    if (!job) throw new CliError(`no job with id ${ref}`, 'NOT_FOUND');
    return job;
  }
  const { jobs } = await client.request(CliJobsDocument, { filter: { search: ref }, first: 100 });
  const named = jobs.edges.map((e) => e.node).filter((j) => j.name === ref);
  if (named.length === 0) throw new CliError(`no job named "${ref}"`, 'NOT_FOUND');
  if (named.length > 1) {
    throw new CliError(
      `${named.length} jobs are named "${ref}": give the id (${named.map((j) => j.id).join(', ')})`,
      'AMBIGUOUS',
      EXIT.REFUSED,
    );
  }
  return named[0];
}
