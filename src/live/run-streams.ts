import type { JobsApi, RunsApi } from '../api';
import type { MetricsView, RunStatus, RunView, StageView } from '../domain';
import { badInput, notFound } from '../errors';
import type { EventBus } from '../events/bus';
import { Topic } from '../events/topics';
import { closing, orClose } from './streams';

interface Deps {
  jobs: JobsApi;
  runs: RunsApi;
  bus: EventBus;
}

/** Yields the snapshot, then live runs, skipping any run message not newer (by `version`) than the last one sent. */
async function* versioned(snapshot: RunView[], live: AsyncIterable<RunView>, accept: (r: RunView) => boolean = () => true) {
  const sent = new Map<string, number>();
  for (const r of snapshot) {
    sent.set(r.id, r.version);
    yield r;
  }
  for await (const r of live) {
    if ((sent.get(r.id) ?? 0) >= r.version) continue;
    sent.set(r.id, r.version);
    if (accept(r)) yield r;
  }
}

async function mustExist(runs: RunsApi, runId: string): Promise<RunView> {
  const run = await runs.get(runId);
  if (!run) throw notFound('Run', runId);
  return run;
}

/**
 * `runUpdated`: exactly one of `runId` (that run) or `jobId` (every run of that job). First message:
 * the run (or the job's latest run, when it has one), then every change. BAD_USER_INPUT naming the
 * argument unless exactly one is given; NOT_FOUND for an unknown run or job.
 */
export async function runUpdatedStream(deps: Deps, args: { runId?: string | null; jobId?: string | null }) {
  const { runId, jobId } = args;
  if (runId == null && jobId == null) throw badInput('runId', 'give exactly one of runId or jobId');
  if (runId != null && jobId != null) throw badInput('jobId', 'give exactly one of runId or jobId, not both');
  const sub = runId != null ? await deps.bus.subscribe(Topic.RUN, runId) : await deps.bus.subscribe(Topic.JOB_RUNS, jobId!);
  const snapshot = await orClose(sub, async () => {
    if (runId != null) return [await mustExist(deps.runs, runId)];
    const job = await deps.jobs.get(jobId!);
    if (!job) throw notFound('Job', jobId!);
    const latest = job.latestRunId ? await deps.runs.get(job.latestRunId) : null;
    return latest ? [latest] : [];
  });
  return closing(versioned(snapshot, sub), () => sub.close());
}

/**
 * `runsChanged`: live changes of the runs matching `filter` (no snapshot: the client has just
 * queried the page): status changes of that job's runs (with `jobId`) or of every run, filtered by
 * `status`. Subscribed before it returns, so nothing committed after the subscribe is missed.
 */
export async function runsChangedStream(deps: Deps, filter: { jobId?: string | null; status?: RunStatus | null } | null | undefined) {
  const sub = filter?.jobId ? await deps.bus.subscribe(Topic.JOB_RUN_STATUS, filter.jobId) : await deps.bus.subscribe(Topic.RUN_STATUS);
  const status = filter?.status ?? null;
  return closing(
    versioned([], sub, (r) => status === null || r.status === status),
    () => sub.close(),
  );
}

/** `runMetrics`: the latest sample (when there is one), then live samples; older samples are skipped. */
export async function runMetricsStream(deps: Deps, runId: string) {
  const sub = await deps.bus.subscribe(Topic.RUN_METRICS, runId);
  const latest = await orClose(sub, async () => {
    await mustExist(deps.runs, runId);
    return deps.runs.latestMetrics(runId);
  });
  async function* generate(): AsyncGenerator<MetricsView> {
    let last = latest;
    if (latest) yield latest;
    for await (const m of sub) {
      // Older samples are stale; an equal timestamp is the snapshot seen again (compare only then:
      // this runs per subscriber per event).
      if (last && (m.timestamp < last.timestamp || (m.timestamp === last.timestamp && JSON.stringify(m) === JSON.stringify(last))))
        continue;
      last = m;
      yield m;
    }
  }
  return closing(generate(), () => sub.close());
}

/**
 * `stageProgress`: every stage as it stands (one message each), then live stage changes; a change
 * older than (or equal to) what was last sent for that stage is skipped.
 */
export async function stageProgressStream(deps: Deps, runId: string) {
  const sub = await deps.bus.subscribe(Topic.RUN_STAGES, runId);
  const stages = await orClose(sub, async () => {
    await mustExist(deps.runs, runId);
    return deps.runs.stages(runId);
  });
  async function* generate(): AsyncGenerator<StageView> {
    const sent = new Map<string, StageView>();
    for (const s of stages) {
      sent.set(s.name, s);
      yield s;
    }
    for await (const s of sub) {
      const prev = sent.get(s.name);
      // Older changes are stale; an equal time is the snapshot seen again (compare only then: this runs per subscriber per event).
      if (
        prev &&
        (Date.parse(s.updatedAt) < Date.parse(prev.updatedAt) ||
          (s.updatedAt === prev.updatedAt && JSON.stringify(s) === JSON.stringify(prev)))
      )
        continue;
      sent.set(s.name, s);
      yield s;
    }
  }
  return closing(generate(), () => sub.close());
}
