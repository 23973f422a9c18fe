import { CliRunsDocument, type CliRunsQuery, type RunFilter } from '../../client';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { duration, percent, statusTone, table } from '../format';
import { findJob } from '../lookup';
import { BACKENDS, RUN_STATUSES, oneOf, positiveInt, str } from '../values';

type RunRow = CliRunsQuery['runs']['edges'][number]['node'];

/** `jobwire runs`: the runs, newest first. */
export const runsCommand: Command = {
  name: 'runs',
  args: [],
  summary: 'list runs (newest first) with their status, attempt, progress and duration',
  description: 'The filters combine (the runs query filters them on the gateway).',
  options: {
    status: { type: 'string', value: 'STATUS', description: `run status: ${RUN_STATUSES.join(', ')}` },
    job: { type: 'string', value: 'JOB', description: "only this job's runs (id or name)" },
    backend: { type: 'string', value: 'BACKEND', description: `${BACKENDS.join(', ')}` },
    tag: { type: 'string', value: 'TAG', description: 'only runs of jobs with this tag' },
    first: { type: 'string', value: 'N', description: 'at most N runs (default 20)' },
    json: { type: 'boolean', description: 'print the runs as a JSON array' },
  },
  examples: ['jobwire runs --status FAILED', 'jobwire runs --job orders --first 5'],
  async run({ client, io, options }) {
    const status = oneOf('status', options.status, RUN_STATUSES);
    const backend = oneOf('backend', options.backend, BACKENDS);
    const tag = str(options.tag);
    const first = positiveInt('first', options.first, 20);
    const jobRef = str(options.job);
    const filter: RunFilter = { status, backend, tag, jobId: jobRef ? (await findJob(client, jobRef)).id : undefined };
    const { runs: page } = await client.request(CliRunsDocument, { filter, first });
    const runs: RunRow[] = page.edges.map((e) => e.node);
    const total = page.totalCount;
    if (options.json) {
      io.out(JSON.stringify(runs, null, 2));
      return EXIT.OK;
    }
    if (!runs.length) {
      io.err('no runs');
      return EXIT.OK;
    }
    const now = Date.now();
    io.out(
      table(
        ['RUN', 'JOB', '#', 'STATUS', 'ATTEMPT', 'BACKEND', 'PROGRESS', 'STARTED', 'DURATION'],
        runs.map((r) => [
          r.id,
          r.job.name,
          String(r.number),
          io.paint(r.status, statusTone(r.status)),
          String(r.attempt),
          r.backend,
          percent(r.progress).trim(),
          r.startedAt ? r.startedAt.slice(0, 19).replace('T', ' ') : null,
          r.startedAt ? duration((r.finishedAt ? Date.parse(r.finishedAt) : now) - Date.parse(r.startedAt)) : null,
        ]),
      ),
    );
    if (total !== undefined && total > runs.length) io.err(`${runs.length} of ${total} runs (--first for more)`);
    return EXIT.OK;
  },
};
