import type { JobsApi, RunsApi } from '../api';
import type { MetricsView, RunView, StageView } from '../domain';
import { badInput, notFound } from '../errors';
import type { BusSubscription, EventBus } from '../events/bus';
import { Topic, type TopicPayloads } from '../events/topics';
import type { RunFilter } from '../jobs/job-input';
import { keepWhere, orClose, snapshotThenLive, type LiveStream } from './streams';

interface Deps {
  jobs: JobsApi;
  runs: RunsApi;
  bus: EventBus;
}

/**
 * Accepts a run message only when it is newer (by `version`) than the last one let through for that
 * run. One run (`runUpdated(runId)`) needs one number per subscriber; several runs (a job's) a map.
 */
function newerThan(snapshot: readonly RunView[], single: boolean): (r: RunView) => boolean {
  if (single) {
    let last = snapshot[0]?.version ?? 0;
    return (r) => r.version > last && ((last = r.version), true);
  }
  const sent = new Map<string, number>(snapshot.map((r) => [r.id, r.version]));
  return (r) => {
    if ((sent.get(r.id) ?? 0) >= r.version) return false;
    sent.set(r.id, r.version);
    return true;
  };
}

/** Most runs a resync of a job's or of every run's stream re-reads (newest first). */
export const RESYNC_RUNS = 100;

/**
 * Re-reads, after a bus outage, the runs matching `filter` changed since `since` (at most
 * {@link RESYNC_RUNS}, newest first) and hands them to `sub` oldest first; the stream's own filter
 * lets through only what its client has not seen.
 */
async function resyncRuns(runs: RunsApi, sub: BusSubscription<RunView>, filter: { jobId?: string | null }, since: Date) {
  const page = await runs.list(filter.jobId ? { jobId: filter.jobId } : null, { first: RESYNC_RUNS });
  const changed = page.edges.map((e) => e.node).filter((r) => Date.parse(r.updatedAt) >= since.getTime());
  for (const r of changed.reverse()) sub.push(r);
}

/**
 * Subscribes `topic`/`id` with a resync that `reread`s into the subscription (see
 * SubscribeOptions.onResync): the subscription exists before the resync can run.
 */
async function subscribeWithResync<T extends Topic>(
  bus: EventBus,
  topic: T,
  id: string | undefined,
  reread: (sub: BusSubscription<TopicPayloads[T]>, since: Date) => Promise<void>,
): Promise<BusSubscription<TopicPayloads[T]>> {
  let sub: BusSubscription<TopicPayloads[T]> | null = null;
  sub = await bus.subscribe(topic, id, { onResync: (since) => (sub ? reread(sub, since) : undefined) });
  return sub;
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
export async function runUpdatedStream(deps: Deps, args: { runId?: string | null; jobId?: string | null }): Promise<LiveStream<RunView>> {
  const { runId, jobId } = args;
  if (runId == null && jobId == null) throw badInput('runId', 'give exactly one of runId or jobId');
  if (runId != null && jobId != null) throw badInput('jobId', 'give exactly one of runId or jobId, not both');
  // After a bus outage: the run as it stands now, or the job's runs that changed meanwhile.
  const sub =
    runId != null
      ? await subscribeWithResync(deps.bus, Topic.RUN, runId, async (s) => {
          const run = await deps.runs.get(runId);
          if (run) s.push(run);
        })
      : await subscribeWithResync(deps.bus, Topic.JOB_RUNS, jobId!, (s, since) => resyncRuns(deps.runs, s, { jobId }, since));
  const snapshot = await orClose(sub, async () => {
    if (runId != null) return [await mustExist(deps.runs, runId)];
    const job = await deps.jobs.get(jobId!);
    if (!job) throw notFound('Job', jobId!);
    const latest = job.latestRunId ? await deps.runs.get(job.latestRunId) : null;
    return latest ? [latest] : [];
  });
  return snapshotThenLive(snapshot, sub, newerThan(snapshot, runId != null));
}

/**
 * `runsChanged`: live changes of the runs matching `filter` (no snapshot: the client has just
 * queried the page): status changes of that job's runs (with `jobId`) or of every run, filtered by
 * `status`. Subscribed before it returns, so nothing committed after the subscribe is missed.
 */
export async function runsChangedStream(deps: Deps, filter: RunFilter | null | undefined): Promise<LiveStream<RunView>> {
  const reread = (s: BusSubscription<RunView>, since: Date) => resyncRuns(deps.runs, s, { jobId: filter?.jobId }, since);
  const sub = filter?.jobId
    ? await subscribeWithResync(deps.bus, Topic.JOB_RUN_STATUS, filter.jobId, reread)
    : await subscribeWithResync(deps.bus, Topic.RUN_STATUS, undefined, reread);
  const status = filter?.status ?? null;
  const backend = filter?.backend ?? null;
  const newer = newerThan([], false);
  const live = snapshotThenLive(
    [],
    sub,
    (r) => newer(r) && (status === null || r.status === status) && (backend === null || r.backend === backend),
  );
  return filter?.tag ? keepWhere(live, jobTagged(deps.jobs, filter.tag)) : live;
}

/** How long a runsChanged stream trusts what it learnt of a job's tags (a job's tags can change). */
const TAGS_TTL_MS = 10_000;

/**
 * Whether a run's job carries `tag`, looked up once per job and remembered for {@link TAGS_TTL_MS}
 * by the stream (a live runs page sees the same few jobs again and again).
 */
function jobTagged(jobs: JobsApi, tag: string): (run: RunView) => Promise<boolean> {
  const known = new Map<string, { tagged: boolean; at: number }>();
  return async (run) => {
    const hit = known.get(run.jobId);
    if (hit && Date.now() - hit.at < TAGS_TTL_MS) return hit.tagged;
    const job = await jobs.get(run.jobId);
    const tagged = job?.tags.includes(tag) ?? false;
    known.set(run.jobId, { tagged, at: Date.now() });
    return tagged;
  };
}

/**
 * `runMetrics`: the latest sample (when there is one; read with the run, one statement), then live
 * samples; older samples are skipped. NOT_FOUND for an unknown run.
 */
export async function runMetricsStream(deps: Deps, runId: string): Promise<LiveStream<MetricsView>> {
  const sub = await subscribeWithResync(deps.bus, Topic.RUN_METRICS, runId, async (s) => {
    const metrics = await deps.runs.latestMetrics(runId);
    if (metrics) s.push(metrics);
  });
  const latest = await orClose(sub, async () => (await mustExist(deps.runs, runId)).metrics);
  let last = latest;
  return snapshotThenLive(latest ? [latest] : [], sub, (m) => {
    // Older samples are stale; an equal timestamp is the snapshot seen again (compare only then:
    // this runs per subscriber per event).
    if (last && (m.timestamp < last.timestamp || (m.timestamp === last.timestamp && JSON.stringify(m) === JSON.stringify(last))))
      return false;
    last = m;
    return true;
  });
}

/**
 * `stageProgress`: every stage as it stands (one message each; read with the run, one statement),
 * then live stage changes; a change older than (or equal to) what was last sent for that stage is
 * skipped. NOT_FOUND for an unknown run.
 */
export async function stageProgressStream(deps: Deps, runId: string): Promise<LiveStream<StageView>> {
  const sub = await subscribeWithResync(deps.bus, Topic.RUN_STAGES, runId, async (s) => {
    for (const stage of await deps.runs.stages(runId)) s.push(stage);
  });
  const stages = await orClose(sub, async () => (await mustExist(deps.runs, runId)).stages);
  const sent = new Map<string, StageView>(stages.map((s) => [s.name, s]));
  return snapshotThenLive(stages, sub, (s) => {
    const prev = sent.get(s.name);
    // Older changes are stale; an equal time is the snapshot seen again (compare only then: this runs per subscriber per event).
    if (
      prev &&
      (Date.parse(s.updatedAt) < Date.parse(prev.updatedAt) ||
        (s.updatedAt === prev.updatedAt && JSON.stringify(s) === JSON.stringify(prev)))
    )
      return false;
    sent.set(s.name, s);
    return true;
  });
}
