import { CliJobsDocument } from '../../client';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { scheduleCell, statusTone, table } from '../format';
import { BACKENDS, JOB_STATUSES, oneOf, positiveInt, str } from '../values';

/** `jobwire jobs`: the jobs, newest first, with their latest run's status. */
export const jobsCommand: Command = {
  name: 'jobs',
  args: [],
  summary: 'list jobs: name, id, status of the latest run, backend, schedule',
  options: {
    search: { type: 'string', value: 'TEXT', description: 'text in the name or description (any case)' },
    tag: { type: 'string', value: 'TAG', description: 'only jobs with this tag' },
    status: { type: 'string', value: 'STATUS', description: `job status: ${JOB_STATUSES.join(', ')}` },
    backend: { type: 'string', value: 'BACKEND', description: `${BACKENDS.join(', ')}` },
    first: { type: 'string', value: 'N', description: 'at most N jobs (default 50)' },
    json: { type: 'boolean', description: 'print the jobs as a JSON array' },
  },
  examples: ['jobwire jobs', 'jobwire jobs --tag nightly --json | jq -r ".[].id"'],
  async run({ client, io, options }) {
    const filter = {
      search: str(options.search),
      tag: str(options.tag),
      status: oneOf('status', options.status, JOB_STATUSES),
      backend: oneOf('backend', options.backend, BACKENDS),
    };
    const first = positiveInt('first', options.first, 50);
    const { jobs } = await client.request(CliJobsDocument, { filter, first });
    const nodes = jobs.edges.map((e) => e.node);
    if (options.json) {
      io.out(JSON.stringify(nodes, null, 2));
      return EXIT.OK;
    }
    if (!nodes.length) {
      io.err('no jobs');
      return EXIT.OK;
    }
    io.out(
      table(
        ['NAME', 'ID', 'LAST RUN', 'BACKEND', 'SCHEDULE'],
        nodes.map((j) => [
          j.name,
          j.id,
          j.latestRun ? io.paint(`${j.latestRun.status} #${j.latestRun.number}`, statusTone(j.latestRun.status)) : null,
          j.backend,
          scheduleCell(j.schedule),
        ]),
      ),
    );
    if (jobs.totalCount > nodes.length) io.err(`${nodes.length} of ${jobs.totalCount} jobs (--first for more)`);
    return EXIT.OK;
  },
};
