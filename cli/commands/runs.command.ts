import { CliRunsDocument, type CliRunsQuery, type JobwireClient, type RunFilter } from '../../client';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { duration, percent, statusTone, table } from '../format';
import { findJob } from '../lookup';
import { BACKENDS, RUN_STATUSES, oneOf, positiveInt, str } from '../values';

type RunRow = CliRunsQuery['runs']['edges'][number]['node'];

/** How many runs `--backend`/`--tag` look through at most (they filter on this side: the runs query filters by status and job). */
export const MAX_SCANNED_RUNS = 2000;

/** `jobwire runs`: the runs, newest first. */
export const runsCommand: Command = {
  name: 'runs',
  args: [],
  summary: 'list runs (newest first) with their status, attempt, progress and duration',
  description:
    '--status and --job filter on the gateway; --backend and --tag filter the runs it returns\n' +
    `(newest first, at most ${MAX_SCANNED_RUNS} looked at).`,
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
    const filter: RunFilter = { status, jobId: jobRef ? (await findJob(client, jobRef)).id : undefined };
    const keep = (r: RunRow) => (!backend || r.backend === backend) && (!tag || r.job.tags.includes(tag));
    const { runs, total } = await listRuns(client, filter, first, backend || tag ? keep : undefined);
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

/** The first `first` runs matching `filter` and `keep` (paging through the gateway's answers when `keep` drops some). */
async function listRuns(
  client: JobwireClient,
  filter: RunFilter,
  first: number,
  keep?: (r: RunRow) => boolean,
): Promise<{ runs: RunRow[]; total?: number }> {
  if (!keep) {
    const { runs } = await client.request(CliRunsDocument, { filter, first });
    return { runs: runs.edges.map((e) => e.node), total: runs.totalCount };
  }
  const out: RunRow[] = [];
  let after: string | undefined;
  for (let scanned = 0; out.length < first && scanned < MAX_SCANNED_RUNS;) {
    const { runs } = await client.request(CliRunsDocument, { filter, first: 200, after });
    out.push(...runs.edges.map((e) => e.node).filter(keep));
    scanned += runs.edges.length;
    if (!runs.pageInfo.hasNextPage || !runs.pageInfo.endCursor) break;
    after = runs.pageInfo.endCursor;
  }
  return { runs: out.slice(0, first) };
}
